// What the IR itself says about each population kind, as one table: the integer tensors and the lookup
// tables a quantized population of that kind carries. The verifier checks them, the quantize pass makes
// them, and every engine (golden, simulator, CUDA) looks the tables up by the names given here, so the
// choice of table for an activation is made in this one place.
import type { Activation, Population, PopulationKind } from "./types.js";

/** The names of the lookup tables (ir Lut.name); runtime/fixed builds each. */
export type LutName = "sigmoid" | "tanh" | "phi";

export interface IrKind<K extends PopulationKind> {
  /** The dtype of each quantized tensor ("w" = the weight dtype of QuantInfo.weight_bits). */
  quantTensors: Record<string, string>;
  /** The tables a quantized population of this kind carries, in order. */
  luts(p: Extract<Population, { kind: K }>): LutName[];
}

/** The table a Dense activation reads (gelu: x · Φ(x), Φ tabulated), or none. */
export function activationLut(act: Activation): LutName | undefined {
  return act === "sigmoid" ? "sigmoid" : act === "tanh" ? "tanh" : act === "gelu" ? "phi" : undefined;
}

export const IR_KINDS: { [K in PopulationKind]: IrKind<K> } = {
  Input: { quantTensors: {}, luts: () => [] },
  EGRU: { quantTensors: { bias_x: "i32", bias_h: "i32", thr: "i16" }, luts: () => ["sigmoid", "tanh"] },
  DiagonalSSM: {
    quantTensors: { lambda_re: "i16", lambda_im: "i16", c_re: "w", c_im: "w", c_mult: "i32", c_shift: "i32" },
    luts: () => [],
  },
  Dense: {
    quantTensors: { bias: "i32" },
    luts: (p) => {
      const l = activationLut(p.activation);
      return l ? [l] : [];
    },
  },
  Readout: { quantTensors: {}, luts: () => [] },
};

/** The tables a quantized population carries (IR_KINDS[kind].luts). */
export function requiredLuts(p: Population): LutName[] {
  return (IR_KINDS[p.kind].luts as (p: Population) => LutName[])(p);
}
