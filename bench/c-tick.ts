// The whole-tick C baseline of the throughput benchmark: bench/c/tick.cpp, compiled with g++ -O3 -march=native,
// runs the quantized model itself (the golden engine's integer arithmetic: ports, every projection's rows in the
// engine's form, requantization, saturation, the unit updates, the counts), and its output integers are checked
// equal to the golden engine's before it is timed. bench/c-baseline.ts times the row accumulation alone; this one
// does all of golden's work, so golden ÷ this says how far nmc's engine is from C++ doing the same job.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accumulationForm, type Graph, irKindOf, lutInvStep, lutOrigin, quantizeInputs, runGolden, type SequenceBatch } from "../index.js";
import { compileBenchC } from "./c-baseline.js";

const KINDS = ["Input", "EGRU", "Dense", "Readout"];

/** Why tick.cpp cannot run g (the kinds and settings it implements: its header), or null. */
function unsupported(g: Graph): string | null {
  for (const p of g.populations) {
    if (!KINDS.includes(p.kind)) return `population ${p.name} is a ${p.kind}`;
    if ((p.rate ?? 1) !== 1) return `population ${p.name} does not step every tick`; // none of these kinds pools
    if (p.kind === "Input" && (p.encoding !== "values" || p.eventTime)) return "the input is not a value input";
    if (p.kind === "EGRU" && (p.zoneout ?? 0) !== 0) return `${p.name} has zoneout`;
    if (p.kind === "Dense" && (!["linear", "relu"].includes(p.activation) || p.fixed!.accFrac < p.fixed!.outFrac)) return `${p.name}'s activation is ${p.activation}`;
    if (p.kind === "Readout" && !["last", "mean", "sum"].includes(p.mode)) return `${p.name} pools (${p.mode})`;
  }
  return null;
}

/** The model file tick.cpp reads (layout in its header). */
function writeModel(file: string, g: Graph, batch: SequenceBatch): void {
  const parts: Uint8Array[] = [new TextEncoder().encode("NMCTICK1")];
  const u32 = (...xs: number[]) => parts.push(new Uint8Array(Uint32Array.from(xs.map((x) => x >>> 0)).buffer));
  const i32 = (xs: ArrayLike<number>) => parts.push(new Uint8Array(Int32Array.from(xs).buffer));
  const index = new Map(g.populations.map((p, i) => [p.name, i]));
  u32(g.populations.length, g.quant!.weightBits - 8, batch.batch, batch.ticks, batch.channels);
  for (const p of g.populations) {
    u32(KINDS.indexOf(p.kind), p.size, p.ports.length);
    for (const q of p.ports) {
      const bias = irKindOf(p).portBias(p, q.name);
      u32(q.width, bias ? 1 : 0);
      if (bias) i32(p.tensors[bias].data as ArrayLike<number>);
    }
    if (p.kind === "EGRU") {
      i32(p.tensors.thr.data as ArrayLike<number>);
      for (const name of ["sigmoid", "tanh"]) {
        const l = p.luts!.find((x) => x.name === name)!;
        u32(l.table.length);
        parts.push(new Uint8Array(Float64Array.of(lutOrigin(l), lutInvStep(l)).buffer));
        i32(l.table);
      }
    } else if (p.kind === "Dense") u32(p.activation === "relu" ? 1 : 0, p.fixed!.accFrac - p.fixed!.outFrac);
    else if (p.kind === "Readout") u32(["last", "mean", "sum"].indexOf(p.mode), index.get(irKindOf(p).reads(p)!)!);
  }
  u32(g.projections.length);
  for (const j of g.projections) {
    const form = accumulationForm(j, g.quant!.weightBits - 8) === "dense32" ? 2 : 0;
    const t = g.populations[index.get(j.target)!];
    u32(index.get(j.source)!, index.get(j.target)!, t.ports.findIndex((q) => q.name === j.port), j.delay, j.rows, j.cols, j.weights.colIdx.length, form);
    i32(j.requant!.multiplier); i32(j.requant!.shift);
    parts.push(new Uint8Array(Uint32Array.from(j.weights.rowPtr).buffer), new Uint8Array(Uint32Array.from(j.weights.colIdx).buffer));
    i32(j.weights.values.data as ArrayLike<number>);
  }
  u32(index.get(g.outputs[0])!);
  i32(quantizeInputs(g, batch));
  writeFileSync(file, Buffer.concat(parts));
}

/** tick.cpp compiled once per process, or why not. */
let compiled: ReturnType<typeof compileBenchC> | undefined;

export interface TickBaseline {
  /** One timed run of the whole batch (after the program's untimed first pass), seconds. */
  run(): number;
  compiler: string;
}

/** Compiles bench/c/tick.cpp and checks its outputs against the golden engine's; a reason string where it cannot run g, g++ is missing or they differ. */
export function cTickBaseline(g: Graph, batch: SequenceBatch, log: (m: string) => void): TickBaseline | string {
  const why = unsupported(g);
  if (why) return `tick.cpp does not implement this model: ${why}`;
  const built = compiled ??= compileBenchC("tick.cpp");
  if (typeof built === "string") return built;
  const { exe, compiler } = built, dir = mkdtempSync(join(tmpdir(), "nmc-ctick-"));
  const model = join(dir, "model.bin"), out = join(dir, "out.bin");
  writeModel(model, g, batch);
  const once = (repeats: number): number => {
    const r = spawnSync(exe, [model, String(repeats), out], { encoding: "utf8", maxBuffer: 1 << 20 });
    if (r.status !== 0) throw new Error(`the whole-tick C baseline failed: ${r.stderr}`);
    const m = /seconds (\S+)/.exec(r.stdout);
    return m ? Number(m[1]) : NaN;
  };
  once(0);
  const bytes = readFileSync(out); // a small file's Buffer may be a view into a shared pool: copy its own bytes
  const got = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const want = runGolden(g, batch).outputQ;
  if (got.length !== want.length || got.some((x, i) => x !== want[i])) {
    const i = got.findIndex((x, k) => x !== want[k]);
    return `the whole-tick C program's outputs differ from the golden engine's (${got.length} vs ${want.length} values; first at ${i}: ${got[i]} vs ${want[i]})`;
  }
  log(`whole-tick C baseline: ${compiler}: its ${got.length} output integers equal the golden engine's`);
  return { run: () => once(1), compiler };
}
