// Adding a population kind is one row per layer (docs/adding-an-op.md), and the type checker says where:
// this test adds a kind "Probe" to ir/types.ts in memory (the real file is untouched), type-checks the whole
// source tree, and expects exactly one error per op table, each "property 'Probe' is missing". A table
// typed loosely (a row that may be absent) or a per-kind switch with a silent default would not show up
// here; a new table would, and then docs/adding-an-op.md must list it too.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Project } from "ts-morph";
import { describe, expect, it } from "vitest";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Where each op table is, as docs/adding-an-op.md lists them. */
const TABLES = [
  "ir/types.ts", // KINDS: the list of kinds itself
  "ir/kinds.ts", // IR_KINDS: ports, tensors, checks, codec, printer, formats, lookup tables
  "runtime/float/ops.ts", // FLOAT_OPS: the float math
  "compiler/passes/formats.ts", // QUANT_OPS: calibration, fixed formats, integer tensors
  "runtime/golden/ops.ts", // GOLDEN_OPS: the integer definition (golden engine and simulator)
  "targets/spinnaker2/ops.ts", // S2_OPS: slice layout, memory, cycle cost
  "targets/cuda/ops/index.ts", // CUDA_OPS: the CUDA renderer
].sort();

describe("op tables: a new population kind is one row per layer", () => {
  it("a kind added to PopulationKind is a type error in each table, and nowhere else", () => {
    const project = new Project({ tsConfigFilePath: join(repoRoot, "tsconfig.json") });
    // ts-morph's compiler may judge a few files differently from the build's tsc (its module detection):
    // what counts is what the new kind adds to the diagnostics.
    const diagnostics = () => project.getPreEmitDiagnostics().map((d) => ({
      file: d.getSourceFile() ? d.getSourceFile()!.getFilePath().slice(repoRoot.length + 1) : "?",
      text: String(typeof d.getMessageText() === "string" ? d.getMessageText() : (d.getMessageText() as { getMessageText(): string }).getMessageText()),
    }));
    const key = (e: { file: string; text: string }) => `${e.file}: ${e.text}`;
    const already = new Set(diagnostics().map(key));
    const types = project.getSourceFileOrThrow(join(repoRoot, "ir", "types.ts"));
    const before = types.getFullText();
    expect(before).toContain('export type PopulationKind = "Input" | "EGRU" | "DiagonalSSM" | "Dense" | "Readout" | "Multiply" | "LayerNorm" | "EventPooling";');
    types.replaceWithText(
      before
        .replace('export type PopulationKind = "Input" | "EGRU" | "DiagonalSSM" | "Dense" | "Readout" | "Multiply" | "LayerNorm" | "EventPooling";',
          'export type PopulationKind = "Input" | "EGRU" | "DiagonalSSM" | "Dense" | "Readout" | "Multiply" | "LayerNorm" | "EventPooling" | "Probe";')
        .replace("export type Population =\n", 'export interface ProbePopulation extends PopulationBase {\n  kind: "Probe";\n}\n\nexport type Population =\n  | ProbePopulation\n'),
    );
    const errors = diagnostics().filter((e) => !already.has(key(e)));
    expect(errors.map((e) => e.file).sort(), errors.map(key).join("\n")).toEqual(TABLES);
    for (const e of errors) expect(e.text).toMatch(/Property 'Probe' is missing/);
    // The real file was not written.
    expect(readFileSync(join(repoRoot, "ir", "types.ts"), "utf8")).toBe(before);
  }, 120_000);
});
