// The IR tensors and lookup tables the CUDA backend reads from a population, each checked to have the size
// the generated code is compiled for: the parameter file (params.ts) and the kernels (ops/) both read
// them through here.
import { NmcError } from "../../ir/errors.js";
import type { Lut, Population } from "../../ir/types.js";

/** The data of tensor `name` of `p`, checked to hold `length` elements. */
export function tensorData(p: Population, name: string, length: number): ArrayLike<number> {
  const t = p.tensors[name];
  if (!t) throw new NmcError(`population ${p.name} lacks tensor ${name}`, { node: p.name });
  if (t.data.length !== length) {
    throw new NmcError(`population ${p.name}: tensor ${name} has ${t.data.length} elements`, { node: p.name, expected: String(length), found: String(t.data.length) });
  }
  return t.data;
}

/** The LUT a population looks up by name (as the golden engine does), checked to have 2^k entries, k in 8…12. */
export function lutOf(p: Population, name: string): Lut {
  const l = p.luts?.find((x) => x.name === name);
  if (!l) throw new NmcError(`population ${p.name} lacks LUT ${name}`, { node: p.name });
  const n = l.table.length;
  if (n < 256 || n > 4096 || (n & (n - 1)) !== 0) {
    throw new NmcError(`population ${p.name}: LUT ${name} has ${n} entries`, { node: p.name, expected: "a power of two in 256…4096" });
  }
  return l;
}
