// Constructors for IR nodes. Frontends, passes and tests build graphs through these so that the
// invariants the verifier checks (CSR shape, port widths, unique names) hold by construction.
import type {
  Activation, CsrWeights, DType, DensePopulation, DiagonalSsmPopulation, Discretization, EgruPopulation, EventPoolingPopulation, Graph,
  InputEncoding, InputPopulation, LayerNormPopulation, MultiplyPopulation, PoolMode, Population, Projection, ReadoutMode, ReadoutPopulation, SourceLoc, Tensor,
  TensorData,
} from "./types.js";
import { dtypeOf } from "./types.js";
import { NmcError } from "./errors.js";
import { graphTiming } from "./timing.js";

export function tensor(data: TensorData, shape: number[] = [data.length]): Tensor {
  return { dtype: dtypeOf(data), shape, data };
}

/**
 * CSR over source rows from a dense row-major matrix [rows, cols]; exact zeros are dropped, so a pruned
 * matrix is stored sparsely and an unpruned one keeps every entry.
 */
export function csrFromDense(dense: ArrayLike<number>, rows: number, cols: number, dtype: DType = "f32"): CsrWeights {
  let nnz = 0;
  for (let i = 0; i < rows * cols; i++) if (dense[i] !== 0) nnz++;
  const rowPtr = new Uint32Array(rows + 1);
  const colIdx = new Uint32Array(nnz);
  const values = dtype === "f64" ? new Float64Array(nnz) : new Float32Array(nnz);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = dense[r * cols + c];
      if (v !== 0) {
        colIdx[k] = c;
        values[k] = v;
        k++;
      }
    }
    rowPtr[r + 1] = k;
  }
  return { rowPtr, colIdx, values: tensor(values) };
}

/**
 * diag(d) as n × n CSR. Exact zeros are dropped (the same weights csrFromDense gives for the dense diagonal
 * matrix, without its n² array: an SSM's D vector of a wide layer) unless keepZeros (BatchNormalization's
 * scale keeps every entry, so the matrix stays diagonal).
 */
export function csrFromDiagonal(d: ArrayLike<number>, dtype: DType = "f32", keepZeros = false): CsrWeights {
  const n = d.length;
  let nnz = 0;
  for (let i = 0; i < n; i++) if (keepZeros || d[i] !== 0) nnz++;
  const rowPtr = new Uint32Array(n + 1);
  const colIdx = new Uint32Array(nnz);
  const values = dtype === "f64" ? new Float64Array(nnz) : new Float32Array(nnz);
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (keepZeros || d[i] !== 0) {
      colIdx[k] = i;
      values[k] = d[i];
      k++;
    }
    rowPtr[i + 1] = k;
  }
  return { rowPtr, colIdx, values: tensor(values) };
}

/** The n × n identity as CSR (weight 1 on the diagonal): unit i feeds column i. */
export function identityCsr(n: number, dtype: DType = "f32"): CsrWeights {
  return csrFromDiagonal(new Float64Array(n).fill(1), dtype);
}

/** The dense row-major matrix [rows, cols] a CSR stores (zeros where nothing is stored). */
export function csrToDense(w: CsrWeights, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  const v = w.values.data;
  for (let r = 0; r < rows; r++) {
    for (let k = w.rowPtr[r]; k < w.rowPtr[r + 1]; k++) out[r * cols + w.colIdx[k]] = Number(v[k]);
  }
  return out;
}

export function nnz(w: CsrWeights): number {
  return w.colIdx.length;
}

const NO_LOC: SourceLoc = { file: "", layer: "", className: "" };

/** Builds a graph in topological order; names are made unique by suffixing `_2`, `_3`, ... */
export class GraphBuilder {
  private readonly pops: Population[] = [];
  private readonly projs: Projection[] = [];
  private readonly names = new Set<string>();
  readonly inputs: string[] = [];
  readonly outputs: string[] = [];
  readonly meta: Record<string, string> = {};

  constructor(readonly name: string) {}

  uniqueName(base: string): string {
    let n = base;
    for (let i = 2; this.names.has(n); i++) n = `${base}_${i}`;
    this.names.add(n);
    return n;
  }

  population(name: string): Population | undefined {
    return this.pops.find((p) => p.name === name);
  }

  /** The projections built so far into `target` (a fold rewrites their weights in place, e.g. BatchNormalization). */
  projectionsInto(target: Population): Projection[] {
    return this.projs.filter((j) => j.target === target.name);
  }

  /** `eventTime`, `wrapTokens`: InputPopulation's; false or absent sets no attribute. */
  input(name: string, size: number, encoding: InputEncoding, loc: SourceLoc = NO_LOC, attrs: { eventTime?: boolean; wrapTokens?: boolean } = {}): InputPopulation {
    const p: InputPopulation = {
      kind: "Input", name: this.uniqueName(name), size, encoding, emission: encoding === "tokens" ? "events" : "dense",
      ports: [], tensors: {}, loc,
      ...(attrs.eventTime ? { eventTime: true } : {}), ...(attrs.wrapTokens ? { wrapTokens: true } : {}),
    };
    this.pops.push(p);
    this.inputs.push(p.name);
    return p;
  }

  /** `zoneout`: EvNN's zoneout p at inference (EgruPopulation.zoneout); 0 or absent: none, and no attribute is set. */
  egru(
    name: string, units: number, t: { biasX: Float32Array | Float64Array; biasH: Float32Array | Float64Array; thr: Float32Array | Float64Array },
    loc: SourceLoc = NO_LOC, attrs: { zoneout?: number } = {},
  ): EgruPopulation {
    const p: EgruPopulation = {
      kind: "EGRU", name: this.uniqueName(name), size: units, emission: "events",
      ports: [{ name: "input", width: 3 * units }, { name: "recurrent", width: 3 * units }],
      tensors: { bias_x: tensor(t.biasX), bias_h: tensor(t.biasH), thr: tensor(t.thr) },
      loc,
      ...(attrs.zoneout ? { zoneout: attrs.zoneout } : {}),
    };
    this.pops.push(p);
    return p;
  }

  /**
   * A DiagonalSSM. With `event` (event time): lambdaRe/lambdaIm are the continuous Λ, `event.step` the learnt
   * step [P], and the discretization, stride and pool are set (ir/types.ts DiagonalSsmPopulation).
   */
  diagonalSsm(
    name: string, size: number, stateSize: number, parameterization: string,
    t: { lambdaRe: Float64Array; lambdaIm: Float64Array; cRe: Float64Array; cIm: Float64Array }, loc: SourceLoc = NO_LOC,
    event?: { discretization: Discretization; step: Float64Array; stride?: number; pool?: PoolMode },
  ): DiagonalSsmPopulation {
    const p: DiagonalSsmPopulation = {
      kind: "DiagonalSSM", name: this.uniqueName(name), size, stateSize, parameterization, emission: "dense",
      ports: [{ name: "u", width: 2 * stateSize }, { name: "skip", width: size }],
      tensors: {
        lambda_re: tensor(t.lambdaRe), lambda_im: tensor(t.lambdaIm),
        c_re: tensor(t.cRe, [size, stateSize]), c_im: tensor(t.cIm, [size, stateSize]),
        ...(event ? { step: tensor(event.step) } : {}),
      },
      loc,
      ...(event ? { discretization: event.discretization } : {}),
      ...(event && (event.stride ?? 1) > 1 ? { stride: event.stride, pool: event.pool ?? "last" } : {}),
    };
    this.pops.push(p);
    return p;
  }

  dense(name: string, units: number, activation: Activation, bias: Float32Array | Float64Array, loc: SourceLoc = NO_LOC): DensePopulation {
    const p: DensePopulation = {
      kind: "Dense", name: this.uniqueName(name), size: units, activation, emission: "dense",
      ports: [{ name: "x", width: units }], tensors: { bias: tensor(bias) }, loc,
    };
    this.pops.push(p);
    return p;
  }

  readout(name: string, source: Population, mode: ReadoutMode, loc: SourceLoc = NO_LOC): ReadoutPopulation {
    const p: ReadoutPopulation = {
      kind: "Readout", name: this.uniqueName(name), size: source.size, mode, source: source.name, emission: "dense",
      ports: [], tensors: {}, loc,
    };
    this.pops.push(p);
    return p;
  }

  /** A Multiply population (out = a ⊙ b) with empty ports `a` and `b`; projections deliver into them. */
  multiply(name: string, size: number, loc: SourceLoc = NO_LOC): MultiplyPopulation {
    const p: MultiplyPopulation = {
      kind: "Multiply", name: this.uniqueName(name), size, emission: "dense",
      ports: [{ name: "a", width: size }, { name: "b", width: size }], tensors: {}, loc,
    };
    this.pops.push(p);
    return p;
  }

  /** A LayerNorm population over its port `x` (out = γ ⊙ (x − mean) / √(var + ε) + β); projections deliver into `x`. */
  layerNorm(name: string, size: number, epsilon: number, t: { gamma: TensorData; beta: TensorData }, loc: SourceLoc = NO_LOC): LayerNormPopulation {
    const p: LayerNormPopulation = {
      kind: "LayerNorm", name: this.uniqueName(name), size, emission: "dense", epsilon,
      ports: [{ name: "x", width: size }], tensors: { gamma: tensor(t.gamma), beta: tensor(t.beta) }, loc,
    };
    this.pops.push(p);
    return p;
  }

  /** event-ssm's EventPooling over its port `x` (ir/types.ts EventPoolingPopulation); projections deliver into `x`. */
  eventPooling(name: string, size: number, stride: number, mode: PoolMode, loc: SourceLoc = NO_LOC): EventPoolingPopulation {
    const p: EventPoolingPopulation = {
      kind: "EventPooling", name: this.uniqueName(name), size, stride, mode, emission: "dense",
      ports: [{ name: "x", width: size }], tensors: {}, loc,
    };
    this.pops.push(p);
    return p;
  }

  /**
   * The elementwise product of two populations of one size: a Multiply fed by identity projections
   * `<name>.a` and `<name>.b`, each of delay 0 (this tick's output) or 1 (the previous tick's).
   */
  gate(name: string, a: Population, b: Population, delays: { a?: 0 | 1; b?: 0 | 1 } = {}, loc: SourceLoc = NO_LOC): MultiplyPopulation {
    if (a.size !== b.size) throw new NmcError(`multiply ${name}: operands ${a.name} (${a.size} units) and ${b.name} (${b.size}) differ in width`, { node: name });
    const m = this.multiply(name, a.size, loc);
    this.project(`${m.name}.a`, a, m, "a", identityCsr(a.size), delays.a ?? 0, loc);
    this.project(`${m.name}.b`, b, m, "b", identityCsr(b.size), delays.b ?? 0, loc);
    return m;
  }

  project(
    name: string, source: Population, target: Population, port: string, weights: CsrWeights,
    delay: 0 | 1 = 0, loc: SourceLoc = NO_LOC,
  ): Projection {
    const width = target.ports.find((q) => q.name === port)?.width ?? 0;
    const p: Projection = {
      name: this.uniqueName(name), source: source.name, target: target.name, port, delay,
      rows: source.size, cols: width, weights, loc,
    };
    this.projs.push(p);
    return p;
  }

  /** The graph; every population's rate is set from the structure (ir/timing.ts), left absent where it is 1. */
  build(): Graph {
    const g: Graph = {
      name: this.name, populations: [...this.pops], projections: [...this.projs],
      inputs: [...this.inputs], outputs: [...this.outputs], meta: { ...this.meta },
    };
    const timing = graphTiming(g).byName;
    for (const p of g.populations) {
      const r = timing.get(p.name)?.rate ?? 1;
      if (r !== 1) p.rate = r;
      else delete p.rate;
    }
    return g;
  }
}
