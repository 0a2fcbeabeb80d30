// The C baseline of the throughput benchmark (issue "Speed near the machine's limit"): the event trace of a golden
// run (which rows of which projection each tick delivered, with their values) written to a file, and
// bench/c/accumulate.cpp, compiled with g++ -O3 -march=native, timing the golden engine's row accumulation alone on
// that trace. The golden engine does that and everything else (requantization, unit updates, counters); the
// ratio golden ÷ C says how far nmc is from what a plain loop does on this machine.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accumulationForm, GoldenEngine, type Graph, type SequenceBatch } from "../index.js";
import { REPO } from "./models.js";

export interface EventTrace {
  /** Deliveries in the golden engine's order: projection index, and its events [start[d], start[d + 1]). */
  proj: Uint32Array;
  start: Uint32Array;
  row: Uint32Array;
  val: Int32Array;
  /** Σ stored entries of the delivered rows: the golden engine's effective synaptic operations. */
  synops: number;
  /** Σ over deliveries of acc[d mod cols] after the delivery (what the C program prints, to check it did the same sums). */
  checksum: number;
}

/**
 * Records what a golden run of a single-rate graph delivers: per sample, tick, population (in order) and incoming
 * projection (in graph order), the non-zero source values (delay 0: this tick's output, delay 1: the previous
 * tick's, zero at the first tick), as the engine's deliver() reads them.
 */
export function recordTrace(g: Graph, batch: SequenceBatch): EventTrace {
  const index = new Map(g.populations.map((p, i) => [p.name, i]));
  const { batch: B, ticks: T } = batch;
  const outs = g.populations.map((p) => new Int32Array(B * T * p.size));
  new GoldenEngine(g, { observer: (p, out, b, t) => outs[p].set(out, (b * T + t) * out.length) }).run(batch);
  const incoming = g.populations.map((p) => g.projections.flatMap((j, ji) => (j.target === p.name ? [ji] : [])));
  const proj: number[] = [], start: number[] = [0], row: number[] = [], val: number[] = [];
  const accs = g.projections.map((j) => new Float64Array(j.cols));
  let synops = 0, checksum = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let p = 0; p < g.populations.length; p++) {
        for (const ji of incoming[p]) {
          const j = g.projections[ji];
          const src = index.get(j.source)!, n = g.populations[src].size;
          const tt = j.delay === 0 ? t : t - 1;
          if (tt < 0) continue;
          const off = (b * T + tt) * n, before = row.length;
          for (let i = 0; i < n; i++) {
            const x = outs[src][off + i];
            if (x !== 0) row.push(i), val.push(x);
          }
          if (row.length === before) continue;
          // The same sums in JS, for the checksum the C program must reproduce.
          const acc = accs[ji].fill(0), { rowPtr, colIdx, values } = j.weights, w = values.data;
          for (let e = before; e < row.length; e++) {
            for (let k = rowPtr[row[e]]; k < rowPtr[row[e] + 1]; k++) acc[colIdx[k]] += val[e] * w[k];
            synops += rowPtr[row[e] + 1] - rowPtr[row[e]];
          }
          checksum += acc[proj.length % j.cols];
          proj.push(ji);
          start.push(row.length);
        }
      }
    }
  }
  return { proj: Uint32Array.from(proj), start: Uint32Array.from(start), row: Uint32Array.from(row), val: Int32Array.from(val), synops, checksum };
}

/** The trace file bench/c/accumulate.cpp reads (layout in that file's header). */
export function writeTrace(file: string, g: Graph, tr: EventTrace): void {
  const parts: Uint8Array[] = [new TextEncoder().encode("NMCTRC02")];
  const u32 = (...xs: number[]) => parts.push(new Uint8Array(Uint32Array.from(xs).buffer));
  const arr = (a: ArrayBufferView) => parts.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  u32(g.projections.length);
  for (const j of g.projections) {
    const w = j.weights.values.data as Int8Array | Int16Array;
    const bits = w instanceof Int8Array ? 8 : 16;
    const form = ["csr", "csr32", "dense32"].indexOf(accumulationForm(j, g.quant!.weightBits - 8));
    u32(j.rows, j.cols, j.weights.colIdx.length, bits, form);
    arr(j.weights.rowPtr);
    arr(j.weights.colIdx);
    arr(w);
    const pad = (4 - (w.byteLength % 4)) % 4;
    if (pad) parts.push(new Uint8Array(pad));
  }
  u32(tr.proj.length, tr.row.length);
  arr(tr.proj); arr(tr.start); arr(tr.row); arr(tr.val);
  writeFileSync(file, Buffer.concat(parts));
}

export interface Baseline {
  /**
   * Runs the compiled loop once on the trace (after an untimed warm-up pass); its own timing, seconds. "golden":
   * every projection in the golden engine's form (the same access pattern); "csr": the plain CSR loop, f64 sums.
   */
  run(mode: "golden" | "csr"): number;
  compiler: string;
  /** The golden engine's form of each projection, by name (runtime/golden/accumulation.ts). */
  forms: Record<string, string>;
}

/** A program of bench/c/ compiled with g++ -O3 -march=native into a fresh temporary folder (its path and the compiler, as reported), or why not. */
export function compileBenchC(source: string): { exe: string; compiler: string } | string {
  const exe = join(mkdtempSync(join(tmpdir(), "nmc-c-")), source.replace(/\.cpp$/, ""));
  const flags = ["-O3", "-march=native", "-std=c++17"];
  const cc = spawnSync("g++", [...flags, "-o", exe, join(REPO, "bench", "c", source)], { encoding: "utf8" });
  if (cc.error || cc.status !== 0) return `g++ failed: ${cc.error?.message ?? cc.stderr.trim().split("\n")[0]}`;
  const version = spawnSync("g++", ["-dumpfullversion"], { encoding: "utf8" }).stdout.trim();
  return { exe, compiler: `g++ ${version} ${flags.join(" ")}` };
}

/** Compiles bench/c/accumulate.cpp and checks it on the trace; a reason string where g++ is missing or it disagrees. */
export function cBaseline(g: Graph, tr: EventTrace, log: (m: string) => void): Baseline | string {
  const built = compileBenchC("accumulate.cpp");
  if (typeof built === "string") return built;
  const { exe, compiler } = built, trace = join(mkdtempSync(join(tmpdir(), "nmc-cbase-")), "trace.bin");
  writeTrace(trace, g, tr);
  const once = (mode: "golden" | "csr"): { synops: number; checksum: number; seconds: number } => {
    const r = spawnSync(exe, [trace, "1", mode], { encoding: "utf8", maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`C baseline failed: ${r.stderr}`);
    const m = /synops (\d+) checksum (\S+)\nseconds (\S+)/.exec(r.stdout);
    if (!m) throw new Error(`C baseline printed: ${r.stdout}`);
    return { synops: Number(m[1]), checksum: Number(m[2]), seconds: Number(m[3]) };
  };
  for (const mode of ["golden", "csr"] as const) {
    const first = once(mode);
    if (first.synops !== tr.synops || first.checksum !== tr.checksum) {
      return `the C loop (${mode}) did not do the golden engine's sums (synops ${first.synops} vs ${tr.synops}, checksum ${first.checksum} vs ${tr.checksum})`;
    }
  }
  const forms = Object.fromEntries(g.projections.map((j) => [j.name, accumulationForm(j, g.quant!.weightBits - 8)]));
  log(`C baseline: ${compiler}, ${tr.proj.length} deliveries, ${tr.row.length} events, ${tr.synops} synaptic ops: checked (forms ${Object.values(forms).join(", ")})`);
  return { run: (mode) => once(mode).seconds, compiler, forms };
}
