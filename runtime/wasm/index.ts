// nmc's WebAssembly kernels: the hot accumulation loops of the golden engine and the SpiNNaker 2 simulator,
// compiled from AssemblyScript (assembly/: kernels.ts, simulator.ts, rows.ts) at build time into kernels.wasm beside this file. The
// TypeScript kernels (runtime/golden/kernels.ts, targets/spinnaker2/sim/accumulate.ts) are the definition and
// the fallback; these must agree with them bit for bit (test/runtime/wasm.test.ts).
//
// Memory: an engine that uses the kernels sizes one linear memory for everything they read and write (the CSR
// arrays, the column sums, the source vectors), allocates its typed arrays as views of it (Arena) and never grows
// it, so the views stay valid; a kernel takes byte offsets into that memory (a view's byteOffset).
//
// Choice: NMC_KERNELS=js (environment) or an engine's `kernels: "js"` option runs the TypeScript kernels;
// "wasm" requires these (an error when they cannot load); "auto" (the default) uses them when they load, and
// says once on stderr when it cannot.
import { readFileSync } from "node:fs";
import { NmcError } from "../../ir/errors.js";

export type KernelChoice = "auto" | "wasm" | "js";

/** Byte offsets into the arena's memory, and counts. Returns the entries read. */
export type NonZeroKernel = (v: number, rows: number, rowPtr: number, col: number, w: number, acc: number) => number;
export type SharedQueueKernel = (
  S: number, stride: number, idx: number, val: number, off: number, n: number, rowPtr: number, col: number, w: number, sums: number, touched: number,
) => void;

/**
 * requantize(acc, cols, mult, shift, pre, port, counts): byte offsets, except cols and pre. Returns the columns
 * requantized, and leaves acc all zero.
 */
export type RequantizeKernel = (acc: number, cols: number, mult: number, shift: number, pre: number, port: number, counts: number) => number;

/** denseRows32_i8(v, rows, cols, rowPtr, wd, acc): byte offsets, except rows and cols. Returns the entries the CSR stores in those rows. */
export type DenseRowsKernel = (v: number, rows: number, cols: number, rowPtr: number, wd: number, acc: number) => number;

/**
 * sharedDense32_i8(S, stride, idx, val, off, n, rowPtr, wd, width, cols, sums, touched, chunks, acc16, every): byte
 * offsets, except S, stride, off, n, width, cols and every; chunks = 0: the counts from the row pointers.
 */
export type SharedDenseKernel = (
  S: number, stride: number, idx: number, val: number, off: number, n: number, rowPtr: number, wd: number, width: number, cols: number, sums: number, touched: number,
  chunks: number, acc16: number, every: number,
) => void;

/** requantizeMany32(desc, S, pre, out): byte offsets, except S and pre. */
export type RequantizeManyKernel = (desc: number, S: number, pre: number, out: number) => void;

/** loadMany(desc, count) and saturateMany(desc, count, out): byte offsets, except count. */
export type LoadManyKernel = (desc: number, count: number) => void;
export type SaturateManyKernel = (desc: number, count: number, out: number) => void;

/** saturate(port, n, counts): byte offsets, except n. */
export type SaturateKernel = (port: number, n: number, counts: number) => void;

/** egru(n, vx, vh, sigT, sigLen, sigO, sigI, tanT, tanLen, tanO, tanI, thr, h, out, pq, counts): pointers and constants; returns the events. */
export type EgruKernel = (
  n: number, vx: number, vh: number, sigT: number, sigLen: number, sigO: number, sigI: number, tanT: number, tanLen: number, tanO: number, tanI: number,
  thr: number, h: number, out: number, pq: number, counts: number,
) => number;

/** egruMany(desc, count, sigT, sigLen, sigO, sigI, tanT, tanLen, tanO, tanI, pq, counts): egru over `count` ranges (desc: six u32 each). */
export type EgruManyKernel = (
  desc: number, count: number, sigT: number, sigLen: number, sigO: number, sigI: number, tanT: number, tanLen: number, tanO: number, tanI: number, pq: number, counts: number,
) => number;

/** ssmOut(n, P, cr, ci, rr, ri, mult, shift, skip, pre, down, out, counts): pointers and constants. */
export type SsmOutKernel = (
  n: number, P: number, cr: number, ci: number, rr: number, ri: number, mult: number, shift: number, skip: number, pre: number, down: number, out: number, counts: number,
) => void;

/** What a bound unit update may use of an engine's arena: the arena, and a 4-slot f64 scratch for its counts there. */
export interface UnitArena {
  arena: Arena;
  counts: Float64Array;
}

type Variant = "u16_i8" | "u16_i16" | "u32_i8" | "u32_i16";

// The part of the WebAssembly JS API used here (the project's lib is ES2023 without DOM, which declares it).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The largest memory an engine asks for (wasm32 addresses 4 GiB; V8 allows that much, but leave headroom). */
export const ARENA_MAX_BYTES = 2 ** 31;

let loaded: { module: object } | { error: string } | undefined;

/** The compiled module, or why it is not available (loaded once per process). */
export function kernelModule(): { module: object } | { error: string } {
  if (loaded) return loaded;
  const file = new URL("./kernels.wasm", import.meta.url);
  try {
    loaded = { module: new WA.Module(readFileSync(file)) };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    loaded = { error: `${file.pathname}: ${why} (it is built by npm run build)` };
  }
  return loaded;
}

/** The kernel choice of an engine: its option, else NMC_KERNELS, else auto. Refuses other values by name. */
export function kernelChoice(option?: KernelChoice): KernelChoice {
  const raw = option ?? process.env.NMC_KERNELS ?? "auto";
  if (raw !== "auto" && raw !== "wasm" && raw !== "js") {
    throw new NmcError("unknown kernel choice", {
      path: option === undefined ? "NMC_KERNELS" : "kernels",
      expected: "auto, wasm or js",
      found: String(raw),
    });
  }
  return raw;
}

/**
 * Whether an engine needing `bytes` of arena runs the WebAssembly kernels: false for "js"; for "wasm" true or
 * an error naming why not; for "auto" true when the module loads and the size fits.
 */
export function useWasm(choice: KernelChoice, bytes: number): boolean {
  if (choice === "js") return false;
  const m = kernelModule();
  const why = "error" in m ? m.error : bytes > ARENA_MAX_BYTES ? `the engine needs ${bytes} bytes of linear memory, above ${ARENA_MAX_BYTES}` : null;
  if (why === null) return true;
  if (choice === "wasm") throw new NmcError("the WebAssembly kernels are not available", { found: why, hint: "NMC_KERNELS=js runs the TypeScript kernels" });
  if (!warned) {
    // Not silent: the results are the same, but the run is slower than the figures nmc publishes.
    warned = true;
    process.stderr.write(`nmc: warning: the WebAssembly kernels are not used (${why}); running the TypeScript kernels: the same results, about 1.8× slower. NMC_KERNELS=js chooses them without this warning.\n`);
  }
  return false;
}
let warned = false;

type ViewCtor<T> = { new (buffer: ArrayBuffer, byteOffset: number, length: number): T; readonly BYTES_PER_ELEMENT: number };

/** Sizes an arena: the bytes of a list of typed arrays, each rounded up to 8 (so any allocation order fits). */
export class ArenaPlan {
  bytes = 8; // offset 0 stays unused (no array starts at the null address)
  add(bytesPerElement: number, length: number): this {
    this.bytes += align8(bytesPerElement * length);
    return this;
  }
}

/** A linear memory with the kernels instantiated on it. */
interface Instanced {
  memory: WasmMemory;
  exports: Record<string, unknown>;
}

/**
 * The memories of released arenas (Arena.release), kept for later arenas. A fresh memory's pages are
 * zero-filled by the operating system on first touch, which costs about as much as a whole small run (0.5 ms per
 * MiB measured here: an engine of 30 MB spent 15–20 ms on it); a reused one is already mapped. At most
 * ARENA_POOL_BYTES are kept; the oldest go first.
 */
const idle: Instanced[] = [];
export const ARENA_POOL_BYTES = 2 ** 28;

function fromPool(pages: number): Instanced | null {
  // The smallest idle memory that fits, if it is no more than twice the size needed.
  let best = -1;
  idle.forEach((m, i) => {
    const p = m.memory.buffer.byteLength / 65536;
    if (p >= pages && p <= 2 * pages && (best < 0 || p < idle[best].memory.buffer.byteLength / 65536)) best = i;
  });
  return best < 0 ? null : idle.splice(best, 1)[0];
}

/** The bytes the pool of released arenas holds now (for tests and reports). */
export function arenaPoolBytes(): number {
  return idle.reduce((n, m) => n + m.memory.buffer.byteLength, 0);
}

/**
 * One fixed-size linear memory, the kernels instantiated on it, and typed-array views allocated from it. The
 * memory is a fresh one or one an earlier arena released (Arena.release); either way every view it hands out
 * is zeroed or fully written (alloc, copy), so what an engine computes does not depend on which.
 */
export class Arena {
  readonly memory: WasmMemory;
  private readonly exports: Record<string, unknown>;
  private top = 8;
  private readonly capacity: number;
  /** Whether the memory comes from the pool (its bytes are not zero). */
  private readonly reused: boolean;
  private released = false;

  constructor(plan: ArenaPlan) {
    const m = kernelModule();
    if ("error" in m) throw new NmcError("the WebAssembly kernels are not available", { found: m.error });
    const pages = Math.max(1, Math.ceil(plan.bytes / 65536));
    const pooled = fromPool(pages);
    this.reused = pooled !== null;
    if (pooled) ({ memory: this.memory, exports: this.exports } = pooled);
    else {
      this.memory = new WA.Memory({ initial: pages, maximum: pages });
      this.exports = new WA.Instance(m.module, { env: { memory: this.memory } }).exports;
    }
    this.capacity = this.memory.buffer.byteLength;
  }

  /**
   * Gives the memory back to the pool for a later arena: no view of this arena may be used afterwards (the
   * engines that own an arena release it in their dispose(), and refuse to run after). Releasing twice is a no-op.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    const bytes = this.memory.buffer.byteLength;
    if (bytes > ARENA_POOL_BYTES) return;
    while (idle.length && arenaPoolBytes() + bytes > ARENA_POOL_BYTES) idle.shift();
    idle.push({ memory: this.memory, exports: this.exports });
  }

  private view<T>(Ctor: ViewCtor<T>, length: number): T {
    if (this.released) throw new Error("internal: an arena was used after its release");
    const at = align8(this.top);
    const end = at + Ctor.BYTES_PER_ELEMENT * length;
    if (end > this.capacity) throw new Error(`internal: arena overflow (${end} > ${this.capacity} bytes): its plan missed an array`);
    this.top = end;
    return new Ctor(this.memory.buffer, at, length);
  }

  /** A zeroed view of `length` elements (8-byte aligned). */
  alloc<T>(Ctor: ViewCtor<T>, length: number): T {
    const v = this.view(Ctor, length);
    if (this.reused) new Uint8Array(this.memory.buffer, (v as ArrayBufferView).byteOffset, (v as ArrayBufferView).byteLength).fill(0);
    return v;
  }

  /** A copy of `src` in the arena. */
  copy<T extends Int8Array | Int16Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(src: T): T {
    const v = this.view(src.constructor as unknown as ViewCtor<T>, src.length);
    v.set(src as never);
    return v;
  }

  nonZero(col: Uint16Array | Uint32Array, w: Int8Array | Int16Array): NonZeroKernel {
    return this.exports[`nonZero_${variant(col, w)}`] as NonZeroKernel;
  }

  /** nonZero into int32 column sums (int8 weights; only where int32SumsFit). */
  nonZero32(col: Uint16Array | Uint32Array): NonZeroKernel {
    return this.exports[`nonZero32_${col instanceof Uint16Array ? "u16" : "u32"}_i8`] as NonZeroKernel;
  }

  /** The dense-row accumulation into int32 column sums (int8 weights; only where int32SumsFit). */
  denseRows32(): DenseRowsKernel {
    return this.exports.denseRows32_i8 as DenseRowsKernel;
  }

  /** sharedQueue into int32 column sums (int8 weights; only where int32SumsFit). */
  sharedQueue32(col: Uint16Array | Uint32Array): SharedQueueKernel {
    return this.exports[`sharedQueue32_${col instanceof Uint16Array ? "u16" : "u32"}_i8`] as SharedQueueKernel;
  }

  /** sharedQueue over dense rows into int32 column sums (int8 weights; only where int32SumsFit). */
  sharedDense32(): SharedDenseKernel {
    return this.exports.sharedDense32_i8 as SharedDenseKernel;
  }

  /** loadBias over several ports in one call (the simulator's groups). */
  loadMany(): LoadManyKernel {
    return this.exports.loadMany as LoadManyKernel;
  }

  /** saturate over several ports in one call (the simulator's groups). */
  saturateMany(): SaturateManyKernel {
    return this.exports.saturateMany as SaturateManyKernel;
  }

  /** requantize32 over several PEs' sums in one call (the simulator's shared int32 links). */
  requantizeMany32(): RequantizeManyKernel {
    return this.exports.requantizeMany32 as RequantizeManyKernel;
  }

  /** The requantization of int32 column sums (only where requantizeFits). */
  requantize32(): RequantizeKernel {
    return this.exports.requantize32 as RequantizeKernel;
  }

  /** The requantization kernel (only where requantizeFits). */
  requantize(): RequantizeKernel {
    return this.exports.requantize as RequantizeKernel;
  }

  saturate(): SaturateKernel {
    return this.exports.saturate as SaturateKernel;
  }

  egru(): EgruKernel {
    return this.exports.egru as EgruKernel;
  }

  /** egru over several ranges of one population in one call (the simulator's groups). */
  egruMany(): EgruManyKernel {
    return this.exports.egruMany as EgruManyKernel;
  }

  ssmOut(): SsmOutKernel {
    return this.exports.ssmOut as SsmOutKernel;
  }

  /** Whether every view lies in this arena's memory. */
  holds(...views: ArrayBufferView[]): boolean {
    return views.every((v) => v.buffer === this.memory.buffer);
  }

  sharedQueue(col: Uint16Array | Uint32Array, w: Int8Array | Int16Array): SharedQueueKernel {
    return this.exports[`sharedQueue_${variant(col, w)}`] as SharedQueueKernel;
  }
}

/**
 * Whether the kernels' int64 requantization covers these columns [lo, lo + n) (else the TypeScript kernel runs):
 * 0 ≤ pre < 32, every shift in [0, 62], every |multiplier| ≤ 2^15 (QUANTIZATION.md's Q15 mantissas), so that it
 * meets no value the TypeScript doubles would round. Used for projections and for the SSM readout's rows.
 */
export function requantizeFits(pre: number, mult: ArrayLike<number>, shift: ArrayLike<number>, lo = 0, n = shift.length - lo): boolean {
  if (!(Number.isInteger(pre) && pre >= 0 && pre < 32)) return false;
  for (let i = lo; i < lo + n; i++) if (!(shift[i] >= 0 && shift[i] <= 62 && Math.abs(mult[i]) <= 2 ** 15)) return false;
  return true;
}

/**
 * Whether every column sum of a projection with these weights fits int32 whatever its source sends: population
 * outputs are int16 (QUANTIZATION.md), so |x| ≤ 2^15, and a column's sum is at most 2^15 times the sum of |w| over
 * its stored entries. Where it holds, the kernels may add in int32 (the same integers as the f64 sums).
 */
export function int32SumsFit(cols: number, colIdx: ArrayLike<number>, w: ArrayLike<number>): boolean {
  const s = new Float64Array(cols);
  for (let k = 0; k < w.length; k++) s[colIdx[k]] += Math.abs(w[k]);
  let max = 0;
  for (let c = 0; c < cols; c++) if (s[c] > max) max = s[c];
  return max * 2 ** 15 <= 2 ** 31 - 1;
}

/** The share of stored entries at or above which an int8 projection is added row by row in dense form (DenseRowsKernel). */
export const DENSE_ROWS_MIN = 0.125;

function variant(col: Uint16Array | Uint32Array, w: Int8Array | Int16Array): Variant {
  return `${col instanceof Uint16Array ? "u16" : "u32"}_${w instanceof Int16Array ? "i16" : "i8"}`;
}

/** n rounded up to a multiple of 8 (every arena allocation is 8-byte aligned). */
export function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
