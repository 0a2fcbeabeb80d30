// Inputs as JSON: nested arrays of numbers, rectangular (every array at one depth has the same length),
// e.g. [[0, 1.5], [2, -1]] for a [T = 2, C = 2] sequence. Read into a float64 NdArray in C order.
// Errors name the JSON path of the first offending element (`$[1][0]`) or the line and column of a syntax error.

import { NmcError } from "../../ir/errors.js";
import { jsonErrorLocation, readJsonFile } from "../../ir/files.js";
import { type NdArray, ndarray } from "./ndarray.js";

const MAX_RANK = 32;

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 30 ? v.slice(0, 30) + "..." : v)}`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

/** Converts parsed JSON into an f8 array; `file` names the file in errors. */
export function jsonToNdArray(value: unknown, file?: string): NdArray {
  // The shape is read along the first elements; everything else must agree with it.
  const shape: number[] = [];
  let v = value;
  while (Array.isArray(v)) {
    if (shape.length >= MAX_RANK) throw new NmcError("JSON input is nested too deeply", { file, path: "$" + "[0]".repeat(shape.length), expected: `at most ${MAX_RANK} levels`, found: "deeper nesting" });
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  if (shape.length === 0) {
    throw new NmcError("JSON input is not an array", { file, path: "$", expected: "nested arrays of numbers, e.g. [[0, 1], [1, 0]]", found: kindOf(value) });
  }
  let n = 1;
  for (const d of shape) n *= d;
  const data = new Float64Array(n);
  let k = 0;
  const walk = (x: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof x !== "number" || !Number.isFinite(x)) {
        throw new NmcError("JSON input has an element that is not a number", { file, path, expected: "a number", found: kindOf(x) });
      }
      data[k++] = x;
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[depth]) {
      throw new NmcError("JSON input is not rectangular", {
        file, path, expected: `an array of length ${shape[depth]} (shape [${shape.join(", ")}] from the first elements)`, found: kindOf(x),
      });
    }
    for (let i = 0; i < x.length; i++) walk(x[i], depth + 1, `${path}[${i}]`);
  };
  walk(value, 0, "$");
  return ndarray("f8", shape, data);
}

/** Parses JSON text holding nested arrays of numbers. */
export function parseJsonInput(text: string, file?: string): NdArray {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new NmcError("JSON input is not valid JSON", {
      file, path: jsonErrorLocation(text, e), expected: "valid JSON: nested arrays of numbers", found: ((e as Error)?.message ?? String(e)).split("\n")[0],
    });
  }
  return jsonToNdArray(value, file);
}

/** Reads a .json input file. */
export function readJsonInput(path: string): NdArray {
  return jsonToNdArray(readJsonFile(path, "JSON input", "valid JSON: nested arrays of numbers"), path);
}
