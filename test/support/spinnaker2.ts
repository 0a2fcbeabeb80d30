// Helpers for the spinnaker2 target tests: record every population's integers per tick from the golden
// engine and from the simulator, compare them, build shrunk hardware descriptions, and check a mapping's
// partition, placement and routing against independent re-computations of what they must be.
import type { Graph, Population, Projection } from "../../ir/types.js";
import type { RunCounters } from "../../runtime/counters.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { GoldenEngine } from "../../runtime/golden/interpreter.js";
import { type HardwareDescription, parseHardware, ROUTE_CORE_BITS, SPINNAKER2, usableSram } from "../../targets/spinnaker2/chip.js";
import { type Mapping, simulate } from "../../targets/spinnaker2/index.js";
import { memoryModel, type Partition } from "../../targets/spinnaker2/partition.js";
import { s2Op } from "../../targets/spinnaker2/ops.js";
import { locate } from "../../targets/spinnaker2/place.js";
import { KEY_SHIFT } from "../../targets/spinnaker2/route.js";
import type { SimRun } from "../../targets/spinnaker2/sim/simulator.js";

/** Every population's output, every tick: [B, T, size] per population, and the model output. */
export interface Trace {
  outputQ: Int32Array;
  perTick: Int32Array[];
}

function recorder(g: Graph, batch: SequenceBatch) {
  const perTick = g.populations.map((p) => new Int32Array(batch.batch * batch.ticks * p.size));
  const calls = new Int32Array(g.populations.length);
  const observer = (pi: number, out: Int32Array, b: number, t: number) => {
    perTick[pi].set(out, (b * batch.ticks + t) * out.length);
    calls[pi]++;
  };
  return { perTick, calls, observer };
}

export function goldenTrace(g: Graph, batch: SequenceBatch): Trace & { calls: Int32Array; counters: RunCounters } {
  const r = recorder(g, batch);
  const run = new GoldenEngine(g, { observer: r.observer }).run(batch);
  return { outputQ: run.outputQ, perTick: r.perTick, calls: r.calls, counters: run.counters };
}

/**
 * The simulator's activity and synaptic-operation counts against the golden engine's counters (the same
 * NeuroBench definitions). `skip(j)` leaves projections out. Returns the differences.
 */
export function counterDifferences(g: Graph, golden: RunCounters, run: SimRun, skip: (j: Projection) => boolean = () => false): string[] {
  const bad: string[] = [];
  for (const p of g.populations) {
    const c = golden.populations[p.name];
    if (run.events[p.name] !== c.events || run.unitTicks[p.name] !== c.unitTicks) {
      bad.push(`${p.name}: events/unitTicks ${run.events[p.name]}/${run.unitTicks[p.name]}, golden ${c.events}/${c.unitTicks}`);
    }
  }
  for (const j of g.projections) {
    if (skip(j)) continue;
    const s = run.projections[j.name], c = golden.projections[j.name];
    const a = [s.nnz, s.dense, s.denseOps, s.effective, s.activityOnly, s.weightOnly];
    const b = [c.nnz, c.rows * c.cols, c.dense, c.effective, c.activityOnly, c.weightOnly];
    if (a.some((v, i) => v !== b[i])) bad.push(`${j.name}: nnz, dense size, dense, effective, activityOnly, weightOnly [${a}], golden [${b}]`);
  }
  return bad;
}

export function simTrace(g: Graph, m: Mapping, batch: SequenceBatch): Trace & { calls: Int32Array; run: SimRun } {
  const r = recorder(g, batch);
  const run = simulate(g, m, batch, { observer: r.observer });
  return { outputQ: run.outputQ, perTick: r.perTick, calls: r.calls, run };
}

/** null when equal, else where they first differ (sample, tick, population, unit, both values). */
export function firstDifference(g: Graph, batch: SequenceBatch, a: Trace & { calls: Int32Array }, b: Trace & { calls: Int32Array }): string | null {
  for (let p = 0; p < g.populations.length; p++) {
    if (a.calls[p] !== b.calls[p]) return `population ${g.populations[p].name}: observed ${a.calls[p]} vs ${b.calls[p]} times`;
    const x = a.perTick[p], y = b.perTick[p], n = g.populations[p].size;
    for (let i = 0; i < x.length; i++) {
      if (x[i] !== y[i]) {
        const bt = Math.floor(i / n);
        return `sample ${Math.floor(bt / batch.ticks)} tick ${bt % batch.ticks} population ${g.populations[p].name} unit ${i % n}: golden ${x[i]}, simulator ${y[i]}`;
      }
    }
  }
  if (a.outputQ.length !== b.outputQ.length) return `output length ${a.outputQ.length} vs ${b.outputQ.length}`;
  for (let i = 0; i < a.outputQ.length; i++) if (a.outputQ[i] !== b.outputQ[i]) return `outputQ[${i}]: golden ${a.outputQ[i]}, simulator ${b.outputQ[i]}`;
  return null;
}

/** A deep copy of the default description with some figures' values replaced, validated by parseHardware. */
export function withFigures(values: Record<string, number>, base: HardwareDescription = SPINNAKER2): HardwareDescription {
  const hw = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [path, v] of Object.entries(values)) {
    const keys = path.split(".");
    let o = hw as Record<string, unknown>;
    for (const k of keys) o = o[k] as Record<string, unknown>;
    if (!o || typeof o.value !== "number") throw new Error(`no figure at ${path}`);
    o.value = v;
  }
  (hw as { name: string }).name = `test variant of the default: ${Object.keys(values).join(", ")}`;
  return parseHardware(hw);
}

/**
 * The largest bytes one unit needs on a PE of its own: the least usable SRAM every population fits. A
 * population with a cross-PE reduction (a LayerNorm) fits whole, or cut with the reduction's totals on
 * every slice (S2_OPS reduction.bytes), whichever needs less.
 */
export function minimumUsableBytes(g: Graph): number {
  let need = 1;
  for (const p of g.populations) need = Math.max(need, leastUsableBytes(g, p));
  return need;
}

/** The least usable SRAM population p fits (0 for the host's Input and a Readout, which live elsewhere). */
export function leastUsableBytes(g: Graph, p: Population): number {
  if (p.kind === "Input" || p.kind === "Readout") return 0;
  const { fixed, perUnit } = memoryModel(g, p);
  const one = fixed + Math.max(...perUnit), red = s2Op(p).reduction;
  if (!red || p.size < 2) return one;
  return Math.min(fixed + perUnit.reduce((a, b) => a + b, 0), one + red.bytes);
}

/**
 * The default chip structure; a small one (4 PEs on 2 QPEs of a 2 × 1 mesh) so that mappings span chips; or a
 * wide one (32 PEs per QPE, every bit of a routing entry's core field, on 2 QPEs) so that packets reach core 31.
 */
export type ChipShape = "default" | "small" | "wide";

/** A valid description whose usable SRAM per PE is `usable` bytes, with the given chip structure. */
export function hwWithUsable(usable: number, shape: ChipShape = "default"): HardwareDescription {
  const c = SPINNAKER2.chip;
  const sram = usable + c.code_reserve_bytes.value + c.buffer_bytes.value;
  const v: Record<string, number> = { "chip.sram_bytes_per_pe": sram };
  if (shape === "small") Object.assign(v, { "chip.pes": 4, "chip.qpes": 2, "chip.pes_per_qpe": 2, "chip.grid_width": 2, "chip.grid_height": 1, "board.grid_width": 3, "board.grid_height": 2, "board.chips": 6 });
  if (shape === "wide") Object.assign(v, { "chip.pes": 64, "chip.qpes": 2, "chip.pes_per_qpe": 32, "chip.grid_width": 2, "chip.grid_height": 1, "board.grid_width": 2, "board.grid_height": 2, "board.chips": 4 });
  const hw = withFigures(v);
  if (usableSram(hw) !== usable) throw new Error("hwWithUsable: usable SRAM mismatch");
  return hw;
}

/** Independent greedy cut count: the fewest contiguous slices of `perUnit` under `budget` with a fixed part. */
function greedySlices(fixed: number, perUnit: Float64Array, budget: number): number {
  let n = 0, bytes = Infinity;
  for (const b of perUnit) {
    if (bytes + b > budget) {
      n++;
      bytes = fixed;
    }
    bytes += b;
  }
  return n;
}

/** The partition's contract. Returns a list of violations (empty when it holds). */
export function partitionViolations(g: Graph, hw: HardwareDescription, part: Partition): string[] {
  const bad: string[] = [];
  const usable = usableSram(hw);
  if (part.usableBytes !== usable) bad.push(`usableBytes ${part.usableBytes} ≠ ${usable}`);
  const pes = new Set<number>();
  let peCount = 0, lower = 0;
  part.slices.forEach((s, i) => {
    if (s.id !== i) bad.push(`slice ${i} has id ${s.id}`);
  });
  for (const p of g.populations) {
    const pp = part.populations.find((x) => x.pop === p.name);
    if (p.kind === "Input") {
      if (pp) bad.push(`input ${p.name} was given PEs`);
      continue;
    }
    if (!pp) {
      bad.push(`population ${p.name} has no partition`);
      continue;
    }
    const slices = pp.slices.map((id) => part.slices[id]);
    // Contiguous cover of [0, size) without overlap, in order.
    let next = 0;
    for (const s of slices) {
      if (s.pop !== p.name) bad.push(`slice ${s.id} of ${p.name} says ${s.pop}`);
      if (s.lo !== next || s.hi <= s.lo) bad.push(`${p.name}: slice [${s.lo}, ${s.hi}) after ${next}`);
      next = s.hi;
    }
    if (next !== p.size) bad.push(`${p.name}: slices end at ${next}, size ${p.size}`);
    if (p.kind === "Readout") {
      const src = part.populations.find((x) => x.pop === p.source)!;
      if (src.slices.length !== slices.length) bad.push(`readout ${p.name}: ${slices.length} slices, its source ${src.slices.length}`);
      slices.forEach((s, k) => {
        const m = part.slices[src.slices[k]];
        if (!m || s.mirrors !== m.id || s.pe !== m.pe || s.lo !== m.lo || s.hi !== m.hi) bad.push(`readout slice ${s.id} does not mirror ${m?.id}`);
      });
      continue;
    }
    const { fixed: base, perUnit } = memoryModel(g, p);
    // A population cut into several slices with a cross-PE reduction keeps its totals on every slice.
    const red = s2Op(p).reduction;
    const fixed = red && slices.length > 1 ? base + red.bytes : base;
    let units = 0;
    for (const b of perUnit) units += b;
    const total = fixed + units;
    for (const s of slices) {
      let bytes = fixed;
      for (let u = s.lo; u < s.hi; u++) bytes += perUnit[u];
      if (s.bytes !== bytes) bad.push(`${p.name}[${s.lo}:${s.hi}]: bytes ${s.bytes}, memory model says ${bytes}`);
      if (s.bytes > usable) bad.push(`${p.name}[${s.lo}:${s.hi}]: ${s.bytes} bytes > usable ${usable}`);
      if (s.mirrors !== -1) bad.push(`slice ${s.id} of ${p.name} mirrors ${s.mirrors}`);
      if (s.pe >= 0) {
        if (pes.has(s.pe)) bad.push(`PE ${s.pe} holds two slices`);
        pes.add(s.pe);
      }
    }
    const lb = units <= usable - base ? 1 : Math.max(2, Math.ceil(units / (usable - base - (red ? red.bytes : 0))));
    if (pp.lowerBound !== lb) bad.push(`${p.name}: lower bound ${pp.lowerBound}, expected ${lb}`);
    if (slices.length < pp.lowerBound) bad.push(`${p.name}: ${slices.length} slices < lower bound ${pp.lowerBound}`);
    const whole = greedySlices(base, perUnit, usable);
    const fewest = whole > 1 && red ? greedySlices(base + red.bytes, perUnit, usable) : whole;
    if (slices.length !== fewest) bad.push(`${p.name}: ${slices.length} slices, the fewest contiguous split has ${fewest}`);
    if (pp.bytes !== total) bad.push(`${p.name}: bytes ${pp.bytes} ≠ ${total}`);
    if (total > usable && slices.length < 2) bad.push(`${p.name}: ${total} bytes > ${usable} on one PE`);
    peCount += slices.length;
    lower += pp.lowerBound;
  }
  if (part.pes !== peCount) bad.push(`pes ${part.pes} ≠ ${peCount}`);
  if (part.lowerBound !== lower) bad.push(`lowerBound ${part.lowerBound} ≠ ${lower}`);
  if (part.pes < part.lowerBound) bad.push(`pes ${part.pes} < lower bound ${part.lowerBound}`);
  return bad;
}

export function placementViolations(m: Mapping): string[] {
  const bad: string[] = [];
  const { hw, placement, partition } = m;
  const perChip = hw.chip.pes.value, perQpe = hw.chip.pes_per_qpe.value;
  const where = new Set<string>();
  placement.pes.forEach((loc, i) => {
    if (loc.pe !== i) bad.push(`placement.pes[${i}].pe = ${loc.pe}`);
    const l = locate(hw, i);
    if (JSON.stringify(l) !== JSON.stringify(loc)) bad.push(`PE ${i}: ${JSON.stringify(loc)} vs locate ${JSON.stringify(l)}`);
    if (loc.chip !== Math.floor(i / perChip) || loc.qpe !== Math.floor((i % perChip) / perQpe) || loc.core !== i % perQpe) bad.push(`PE ${i}: chip/qpe/core ${loc.chip}/${loc.qpe}/${loc.core}`);
    if (loc.x < 0 || loc.y < 0 || loc.x >= placement.width || loc.y >= placement.height) bad.push(`PE ${i} at (${loc.x}, ${loc.y}) outside ${placement.width} × ${placement.height}`);
    const k = `${loc.x},${loc.y},${loc.core}`;
    if (where.has(k)) bad.push(`two PEs at ${k}`);
    where.add(k);
    // Snake order: consecutive QPEs of one chip are mesh neighbours.
    if (i > 0 && loc.core === 0 && loc.chip === placement.pes[i - 1].chip) {
      const p = placement.pes[i - 1];
      if (Math.abs(p.x - loc.x) + Math.abs(p.y - loc.y) !== 1) bad.push(`QPE of PE ${i} is not next to the previous QPE`);
    }
  });
  if (placement.pes.length !== partition.pes) bad.push(`${placement.pes.length} placed, ${partition.pes} PEs`);
  if (placement.chips !== Math.max(1, Math.ceil(partition.pes / perChip))) bad.push(`chips ${placement.chips} for ${partition.pes} PEs`);
  // Slices in graph order on consecutive PEs.
  const own = partition.slices.filter((s) => s.mirrors < 0).map((s) => s.pe);
  own.forEach((pe, i) => {
    if (pe !== i) bad.push(`slice #${i} on PE ${pe}`);
  });
  return bad;
}

/** The PEs that must receive a population's events: every PE holding a slice of one of its targets. */
export function expectedDestinations(g: Graph, part: Partition, pop: string): number[] {
  const pes = new Set<number>();
  for (const j of g.projections) {
    if (j.source !== pop) continue;
    for (const s of part.slices) if (s.pop === j.target) pes.add(s.pe);
  }
  return [...pes].sort((a, b) => a - b);
}

/** Routing's contract, with an independent walk of the key/mask tables. */
export function routingViolations(g: Graph, m: Mapping): string[] {
  const bad: string[] = [];
  const { hw, partition: part, placement, routing } = m;
  const width = placement.width, perQpe = hw.chip.pes_per_qpe.value;
  const limit = hw.noc.qpe_router_entries.value;
  let max = 0, total = 0;
  for (const [id, list] of routing.tables) {
    max = Math.max(max, list.length);
    total += list.length;
    if (list.length > limit) bad.push(`router ${id}: ${list.length} entries > ${limit}`);
    const keys = new Set(list.map((e) => e.key));
    if (keys.size !== list.length) bad.push(`router ${id}: duplicate keys`);
  }
  if (routing.maxEntries !== max || routing.totalEntries !== total) bad.push(`maxEntries/totalEntries ${routing.maxEntries}/${routing.totalEntries} vs ${max}/${total}`);
  // Emitters: the host and every slice whose population feeds a projection (a Readout's too, on its source's PE).
  const feeds = new Set(g.projections.map((j) => j.source));
  const expectedEmitters = new Set<number>([-1]);
  for (const s of part.slices) if (feeds.has(s.pop)) expectedEmitters.add(s.id); // a Readout slice emits when the Readout feeds a decoder
  const got = new Set(routing.emitters.map((e) => e.slice));
  if (got.size !== routing.emitters.length || got.size !== expectedEmitters.size || [...expectedEmitters].some((s) => !got.has(s))) {
    bad.push(`emitters [${[...got]}] vs expected [${[...expectedEmitters]}]`);
  }
  const peAt = new Map<string, number>();
  for (const loc of placement.pes) peAt.set(`${loc.x},${loc.y},${loc.core}`, loc.pe);
  const keys = new Set<number>();
  /** Our own walk: match the key in each router's table, deliver to its cores, forward on its links. */
  const walk = (key: number, x0: number, y0: number): { dests: number[]; routers: number } => {
    const dests: number[] = [];
    const seen = new Set<string>();
    const queue: [number, number][] = [[x0, y0]];
    let routers = 0;
    while (queue.length) {
      const [x, y] = queue.pop()!;
      const k = `${x},${y}`;
      if (seen.has(k)) {
        bad.push(`key ${key} reaches router (${x}, ${y}) twice`);
        break;
      }
      seen.add(k);
      routers++;
      const hits = (routing.tables.get(y * width + x) ?? []).filter((v) => ((key & v.mask) >>> 0) === v.key);
      if (hits.length !== 1) {
        bad.push(`key ${key} matches ${hits.length} entries at router (${x}, ${y})`);
        break;
      }
      const entry = hits[0];
      for (let c = 0; c < perQpe; c++) {
        if (!((entry.cores >>> c) & 1)) continue;
        const pe = peAt.get(`${x},${y},${c}`);
        if (pe === undefined) bad.push(`key ${key} delivered to empty core ${c} at (${x}, ${y})`);
        else dests.push(pe);
      }
      if (perQpe < ROUTE_CORE_BITS && entry.cores >>> perQpe) bad.push(`cores mask ${entry.cores} beyond ${perQpe} cores`);
      const DX = [1, 0, -1, 0], DY = [0, 1, 0, -1];
      for (let d = 0; d < 4; d++) if (entry.links & (1 << d)) queue.push([x + DX[d], y + DY[d]]);
    }
    dests.sort((a, b) => a - b);
    return { dests, routers };
  };
  for (const e of routing.emitters) {
    const pop = e.slice === -1 ? g.inputs[0] : part.slices[e.slice].pop;
    if (g.populations[e.popIndex].name !== pop) bad.push(`emitter ${e.slice}: popIndex ${e.popIndex} is not ${pop}`);
    const expectedKey = ((e.slice === -1 ? part.slices.length : e.slice) << KEY_SHIFT) >>> 0;
    if (e.key !== expectedKey) bad.push(`emitter ${e.slice}: key ${e.key}, expected ${expectedKey}`);
    if (keys.has(e.key)) bad.push(`key ${e.key} used twice`);
    keys.add(e.key);
    const want = expectedDestinations(g, part, pop);
    if (JSON.stringify(Array.from(e.dests)) !== JSON.stringify(want)) bad.push(`emitter ${e.slice} (${pop}) resolves to [${Array.from(e.dests)}], targets are on [${want}]`);
    const { dests, routers } = walk(e.key, e.x, e.y);
    if (JSON.stringify(dests) !== JSON.stringify(want)) bad.push(`walking the tables delivers key ${e.key} to [${dests}], targets are on [${want}]`);
    if (e.hops !== routers) bad.push(`emitter ${e.slice}: hops ${e.hops}, routers on its tree ${routers}`);
  }
  // Cross-PE reductions: one key per slice of each population cut into several slices whose kind reduces
  // (S2_OPS reduction), numbered after the host's key in partition order; its tree reaches exactly the
  // population's other slices, from the slice's own router.
  const expectedRed: { slice: number; key: number; want: number[] }[] = [];
  let field = part.slices.length + 1;
  for (const pp of part.populations) {
    const p = g.populations.find((q) => q.name === pp.pop)!;
    if (!s2Op(p).reduction || pp.slices.length < 2) continue;
    for (const sid of pp.slices) {
      expectedRed.push({ slice: sid, key: (field++ << KEY_SHIFT) >>> 0, want: pp.slices.filter((x) => x !== sid).map((x) => part.slices[x].pe).sort((a, b) => a - b) });
    }
  }
  if (routing.reductions.length !== expectedRed.length) bad.push(`${routing.reductions.length} reduction emitters, expected ${expectedRed.length}`);
  routing.reductions.forEach((e, i) => {
    const x = expectedRed[i];
    if (!x) return;
    if (e.slice !== x.slice || e.key !== x.key) bad.push(`reduction ${i}: slice ${e.slice} key ${e.key}, expected slice ${x.slice} key ${x.key}`);
    if (keys.has(e.key)) bad.push(`key ${e.key} used twice`);
    keys.add(e.key);
    const loc = placement.pes[part.slices[x.slice].pe];
    if (e.x !== loc.x || e.y !== loc.y) bad.push(`reduction of slice ${x.slice} sent from (${e.x}, ${e.y}), its PE is at (${loc.x}, ${loc.y})`);
    if (JSON.stringify(Array.from(e.dests)) !== JSON.stringify(x.want)) bad.push(`reduction of slice ${x.slice} resolves to [${Array.from(e.dests)}], the other slices are on [${x.want}]`);
    const { dests, routers } = walk(e.key, loc.x, loc.y);
    if (JSON.stringify(dests) !== JSON.stringify(x.want)) bad.push(`walking the tables delivers reduction key ${e.key} to [${dests}], the other slices are on [${x.want}]`);
    if (e.hops !== routers) bad.push(`reduction of slice ${x.slice}: hops ${e.hops}, routers on its tree ${routers}`);
  });
  return bad;
}

/** Router ids (y · width + x) whose mesh position holds no QPE of any placed chip. */
export function routersWithoutQpe(m: Mapping): number[] {
  const { hw, placement, routing } = m;
  const occupied = new Set<number>();
  for (let pe = 0; pe < placement.chips * hw.chip.pes.value; pe += hw.chip.pes_per_qpe.value) {
    const l = locate(hw, pe);
    occupied.add(l.y * placement.width + l.x);
  }
  return [...routing.tables.keys()].filter((id) => !occupied.has(id));
}
