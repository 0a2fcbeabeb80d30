// The spinnaker2 mapping: made by the compiler (mapGraph: partition → place → route), stored in the bundle's
// spinnaker2.mapping section, the lowered artifact of the spinnaker2 target. The section stores everything the
// simulator runs from — the partition (every slice with its PE and bytes, and per population its slices and
// memory lower bound), the placement and the routing tables — and loading decodes that, checks its JSON shape
// field by field, and verifies it against the graph and the bundle's hardware description. Loading never
// re-runs partition, place or route: a bundle runs as it was compiled, and `recheckMapping` below is
// where today's compiler is compared with it. Verification checks what a mapping must satisfy, not how
// today's compiler would choose: slices cover each population once and in order, each PE exists and holds
// one slice (with its mirrored readouts), bytes are the memory model's and fit the usable SRAM, tables are
// within the router limits, and every emitter's packets, walked through the stored tables, reach exactly
// the PEs of its targets' slices (the walk also rebuilds the emitters, with their hops and depths). A mapping
// with a LayerNorm cut over several PEs is version 3: it lists the cross-PE reductions (checked against the
// partition and the reduction keys), and each slice's reduction key must reach exactly the other slices.
import { z } from "zod";
import type { Bundle, BundleSection } from "../../ir/bundle.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph, Population } from "../../ir/types.js";
import { type HardwareDescription, parseHardware, SPINNAKER2, usableSram } from "./chip.js";
import {
  memoryLowerBound, memoryModel, partition, type Partition, type PopulationPartition, type Slice, splitFixedBytes, type StorageOptions,
} from "./partition.js";
import { locate, machineExtent, place, type Placement } from "./place.js";
import { mappingDifferences } from "./recheck.js";
import {
  checkKeyLimits, checkTableLimits, destinationsByPopulation, emittersOf, peIndex, reductionDestinations, reductionEmittersOf, reductionGroups, reductionKeys,
  resolveEmitter, route, type RouteEntry, routerPresence, type Routing, walkKey,
} from "./route.js";
import { S2_OPS } from "./ops.js";
import { macRefusal } from "./accel.js";

export const MAPPING_SECTION = "spinnaker2.mapping";
/** The section's JSON names its format and version; a loader refuses any other (see `checkFormat`). */
export const MAPPING_FORMAT = "nmc-spinnaker2-mapping";
/** The version of a mapping without cross-PE reductions (what every earlier nmc wrote and reads). */
export const MAPPING_VERSION = 2;
/**
 * The version of a mapping with cross-PE reductions (a LayerNorm cut over several PEs): it adds the list
 * `reductions` (population, slices, routing keys, payload bits). Written only when a mapping has one, so that
 * every other bundle stays version 2, and an nmc that cannot run a reduction refuses it by its version.
 */
export const MAPPING_VERSION_REDUCTIONS = 3;
/**
 * The version of a mapping with accelerated paths (accel.ts: projections on the MAC array, populations whose
 * weights live in DRAM): it adds `accel` {mac, dram}. Written only then, so every other bundle keeps its version.
 */
export const MAPPING_VERSION_ACCEL = 4;
const VERSIONS: number[] = [MAPPING_VERSION, MAPPING_VERSION_REDUCTIONS, MAPPING_VERSION_ACCEL];

export interface Mapping {
  hw: HardwareDescription;
  partition: Partition;
  placement: Placement;
  routing: Routing;
}

/** The compiler's mapping: partition → place → route (a bundle stores its result, see mappingSection). */
export function mapGraph(g: Graph, hw: HardwareDescription = SPINNAKER2, storage: StorageOptions = {}): Mapping {
  if (!g.quant) throw new NmcError("the spinnaker2 target maps quantized IR; compile with nmc compile first");
  const part = partition(g, hw, storage);
  const placement = place(part, hw);
  const routing = route(g, part, placement, hw);
  return { hw, partition: part, placement, routing };
}

/**
 * How a stored mapping (a bundle's, as loaded) differs from what today's compiler makes of the same graph and
 * hardware description (recheck.ts lists it). Empty when identical. A stored mapping that differs is not
 * wrong (loading verified it): this says whether recompiling would change it.
 */
export function recheckMapping(g: Graph, m: Mapping): string[] {
  let fresh: Mapping;
  try {
    fresh = mapGraph(g, m.hw, { mac: m.partition.accel?.mac, dram: m.partition.accel?.dram });
  } catch (e) {
    if (e instanceof NmcError) return [`today's compiler does not map this graph on this hardware description: ${e.message}`];
    throw e;
  }
  return mappingDifferences(m, fresh);
}

const NODE = `section ${MAPPING_SECTION}`;
const RECOMPILE = "recompile the model with nmc compile --target spinnaker2";

/** The JSON the bundle stores: the whole partition, placement and routing tables (emitters are re-derived). */
export function mappingSection(m: Mapping): BundleSection {
  const p = m.partition, pl = m.placement;
  const reductions = storedReductions(m);
  const json = {
    format: MAPPING_FORMAT,
    version: p.accel ? MAPPING_VERSION_ACCEL : reductions.length ? MAPPING_VERSION_REDUCTIONS : MAPPING_VERSION,
    usable_bytes: p.usableBytes,
    pes: p.pes,
    lower_bound: p.lowerBound,
    populations: p.populations.map((x) => ({ pop: x.pop, kind: x.kind, slices: x.slices, bytes: x.bytes, lower_bound: x.lowerBound })),
    slices: p.slices.map((s) => ({
      id: s.id, pop: s.pop, pop_index: s.popIndex, lo: s.lo, hi: s.hi, pe: s.pe, bytes: s.bytes, fixed_bytes: s.fixedBytes, mirrors: s.mirrors,
    })),
    placement: {
      chips: pl.chips, boards: pl.boards, width: pl.width, height: pl.height, host: { x: pl.host.x, y: pl.host.y },
      pes: pl.pes.map((l) => ({ pe: l.pe, chip: l.chip, qpe: l.qpe, core: l.core, x: l.x, y: l.y })),
    },
    routes: [...m.routing.tables].map(([router, entries]) => ({
      router, entries: entries.map((e) => [e.key >>> 0, e.mask >>> 0, e.links, e.cores >>> 0]),
    })),
    ...(reductions.length ? { reductions } : {}),
    ...(p.accel ? { accel: { mac: p.accel.mac, dram: p.accel.dram } } : {}),
  };
  return { name: MAPPING_SECTION, kind: "application/json; spinnaker2 mapping", data: new TextEncoder().encode(JSON.stringify(json)) };
}

/**
 * The mapping a spinnaker2 bundle was compiled with: the manifest's target and hardware description, and the
 * stored mapping section, decoded and verified (mappingFromSection). Every refusal is an NmcError naming `file`.
 */
export function loadMapping(b: Bundle, g: Graph, file: string): Mapping {
  if (b.manifest.target !== "spinnaker2") {
    throw new NmcError(`this bundle was compiled for target ${b.manifest.target}, not spinnaker2`, {
      file, hint: "compile with nmc compile <model.json> --target spinnaker2 -o m.nmb, or run it with --engine golden",
    });
  }
  let hw: HardwareDescription;
  try {
    hw = parseHardware(JSON.parse(b.manifest.hardwareJson), file);
  } catch (e) {
    if (e instanceof NmcError) throw new NmcError(`the bundle's hardware description is invalid: ${e.message}`, { ...e.fields(), file, node: "manifest" });
    throw new NmcError("the bundle's hardware description is not valid JSON", { file, node: "manifest" });
  }
  const s = b.sections.get(MAPPING_SECTION);
  if (!s) throw new NmcError(`the bundle has no ${MAPPING_SECTION} section`, { file, node: "manifest", hint: RECOMPILE });
  return mappingFromSection(g, hw, s.data, file);
}

/** Decodes a mapping section's bytes and verifies them against the graph and hardware description `hw`. */
export function mappingFromSection(g: Graph, hw: HardwareDescription, data: Uint8Array, file?: string): Mapping {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(data));
  } catch (e) {
    throw new NmcError(`section ${MAPPING_SECTION} is not valid JSON`, { file, node: NODE, found: String(e), hint: RECOMPILE });
  }
  checkFormat(json, file);
  const stored = shapeOf(json, file);
  const partition = decodePartition(g, hw, stored, file);
  const placement = decodePlacement(hw, partition, stored.placement, file);
  checkReductions(partition, stored, file);
  const routing = decodeRouting(g, hw, partition, placement, stored.routes, file);
  return { hw, partition, placement, routing };
}

/** The cross-PE reductions as a version-3 mapping stores them: per population, its slices, their keys, the payload. */
function storedReductions(m: Mapping): { pop: string; slices: number[]; keys: number[]; payload_bits: number }[] {
  return reductionGroups(m.partition).map((grp) => ({
    pop: grp.pop, slices: grp.slices,
    keys: grp.slices.map((sid) => m.routing.reductions.find((e) => e.slice === sid)!.key >>> 0),
    payload_bits: S2_OPS[m.partition.populations.find((x) => x.pop === grp.pop)!.kind].reduction!.payloadBits,
  }));
}

/**
 * The version and the stored `reductions` against the partition: version 3 lists exactly the populations
 * cut into several slices whose update needs a cross-PE reduction, with their slices, the keys
 * reductionEmittersOf gives them and their payload size; version 2 has none.
 */
function checkReductions(part: Partition, s: StoredMapping, file?: string): void {
  const groups = reductionGroups(part);
  // Version 4 (accelerated paths) has `accel`, and its reductions as version 3 has them (none: as version 2).
  const v4 = s.version === MAPPING_VERSION_ACCEL;
  if (v4 !== (s.accel !== undefined)) fail(file, "accel", `a version-${s.version} mapping ${v4 ? "lacks" : "has"} accelerated paths`, v4 ? "accel {mac, dram}" : `no accel (it needs version ${MAPPING_VERSION_ACCEL})`, describe(s.accel));
  if (v4 && !groups.length && s.reductions === undefined) return;
  if (s.version === MAPPING_VERSION) {
    if (s.reductions !== undefined) fail(file, "reductions", "a version-2 mapping lists cross-PE reductions", `no reductions (they need version ${MAPPING_VERSION_REDUCTIONS})`, describe(s.reductions));
    if (groups.length) {
      fail(file, "version", `a version-2 mapping cuts ${groups[0].pop} over several PEs, which needs a cross-PE reduction`, `version ${MAPPING_VERSION_REDUCTIONS} with its reductions`, String(s.version));
    }
    return;
  }
  if (!s.reductions?.length) fail(file, "version", `a version-${MAPPING_VERSION_REDUCTIONS} mapping lists its cross-PE reductions, and this one lists none`, "a non-empty list reductions", describe(s.reductions));
  const stored = s.reductions!;
  const keys = reductionKeys(part);
  if (stored.length !== groups.length) {
    fail(file, "reductions", "the reductions are not those of the populations cut over several PEs that need one", `[${groups.map((x) => x.pop).join(", ")}]`, `[${stored.map((x) => x.pop).join(", ")}]`);
  }
  groups.forEach((grp, i) => {
    const r = stored[i], at = `reductions[${i}]`;
    if (r.pop !== grp.pop || r.slices.length !== grp.slices.length || r.slices.some((x, j) => x !== grp.slices[j])) {
      fail(file, at, "a reduction is not the population's slices", `${grp.pop} slices [${grp.slices}]`, `${r.pop} slices [${r.slices}]`);
    }
    const want = grp.slices.map((sid) => keys.get(sid)!);
    if (r.keys.length !== want.length || r.keys.some((k, j) => k !== want[j])) fail(file, `${at}.keys`, "a reduction's routing keys are not the ones after the host's key", `[${want}]`, `[${r.keys}]`);
    const bits = S2_OPS[part.populations.find((x) => x.pop === grp.pop)!.kind].reduction!.payloadBits;
    if (r.payload_bits !== bits) fail(file, `${at}.payload_bits`, "a reduction's payload size is not its kind's", String(bits), String(r.payload_bits));
  });
}

// ---- shape ------------------------------------------------------------------------------------------------

const nat = z.number().int().nonnegative();
const u32 = nat.max(0xffffffff);
const byteCount = z.number().finite().nonnegative();

const sectionSchema = z.strictObject({
  format: z.literal(MAPPING_FORMAT),
  version: z.union([z.literal(MAPPING_VERSION), z.literal(MAPPING_VERSION_REDUCTIONS), z.literal(MAPPING_VERSION_ACCEL)]),
  usable_bytes: byteCount,
  pes: nat,
  lower_bound: nat,
  populations: z.array(z.strictObject({ pop: z.string(), kind: z.string(), slices: z.array(nat), bytes: byteCount, lower_bound: nat })),
  slices: z.array(z.strictObject({
    id: nat, pop: z.string(), pop_index: nat, lo: nat, hi: nat, pe: nat, bytes: byteCount, fixed_bytes: byteCount, mirrors: z.number().int().min(-1),
  })),
  placement: z.strictObject({
    chips: nat, boards: nat, width: nat, height: nat,
    host: z.strictObject({ x: nat, y: nat }),
    pes: z.array(z.strictObject({ pe: nat, chip: nat, qpe: nat, core: nat, x: nat, y: nat })),
  }),
  /** Per router: [key, mask, links (E N W S bits), cores (one bit per PE of the QPE)]. */
  routes: z.array(z.strictObject({ router: nat, entries: z.array(z.tuple([u32, u32, nat.max(15), u32])).min(1) })),
  /** Version 3: per population cut over several PEs with a cross-PE reduction, its slices, their keys, the payload bits. */
  reductions: z.array(z.strictObject({ pop: z.string(), slices: z.array(nat), keys: z.array(u32), payload_bits: nat })).optional(),
  /** Version 4: the projections on the MAC array and the populations whose weights live in DRAM (accel.ts). */
  accel: z.strictObject({ mac: z.array(z.string()), dram: z.array(z.string()) }).optional(),
});
type StoredMapping = z.infer<typeof sectionSchema>;

/** The section's format and version, before its shape: a mapping of an earlier nmc gets a hint, not a shape error. */
function checkFormat(json: unknown, file?: string): void {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw refused(file, "(top level)", "the section's JSON is not an object", `an object {"format": "${MAPPING_FORMAT}", "version": ${MAPPING_VERSION}, ...}`, describe(json));
  }
  const { format, version } = json as { format?: unknown; version?: unknown };
  if (format === undefined && version === undefined) {
    throw refused(file, "version", "the mapping was written by an earlier nmc (no format and version): it lacks the placement and partition this nmc runs from",
      `"format": "${MAPPING_FORMAT}", "version": ${MAPPING_VERSION}`, "neither");
  }
  if (format !== MAPPING_FORMAT) throw refused(file, "format", "the mapping's format is not nmc's spinnaker2 mapping", JSON.stringify(MAPPING_FORMAT), describe(format));
  if (typeof version !== "number" || !VERSIONS.includes(version)) {
    throw refused(file, "version", "the mapping's version is not one this nmc reads", VERSIONS.join(", "), describe(version),
      `${RECOMPILE} (with this nmc, or run the bundle with the nmc that wrote it)`);
  }
}

function shapeOf(json: unknown, file?: string): StoredMapping {
  const r = sectionSchema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
  let found: unknown = json;
  for (const k of issue.path) found = found !== null && typeof found === "object" ? (found as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined;
  const more = r.error.issues.length > 1 ? ` (${r.error.issues.length} problems, the first shown)` : "";
  return fail(file, path || "(top level)", `the mapping is malformed: ${issue.message}${more}`, "a mapping as nmc compile --target spinnaker2 writes it", describe(found));
}

// ---- partition --------------------------------------------------------------------------------------------

function decodePartition(g: Graph, hw: HardwareDescription, s: StoredMapping, file?: string): Partition {
  const usable = usableSram(hw);
  if (s.usable_bytes !== usable) {
    fail(file, "usable_bytes", "the mapping was made for a PE memory other than the bundle's hardware description gives", `${usable} (from the manifest's description)`, String(s.usable_bytes));
  }
  const slices: Slice[] = s.slices.map((x, i) => {
    if (x.id !== i) fail(file, `slices[${i}].id`, "a slice's id is not its index", String(i), String(x.id));
    const pop = g.populations[x.pop_index];
    if (pop?.name !== x.pop) fail(file, `slices[${i}].pop_index`, "a slice's pop_index does not index its population in the graph", `the index of ${JSON.stringify(x.pop)}`, String(x.pop_index));
    return { id: x.id, pop: x.pop, popIndex: x.pop_index, lo: x.lo, hi: x.hi, pe: x.pe, bytes: x.bytes, fixedBytes: x.fixed_bytes, mirrors: x.mirrors };
  });
  const populations: PopulationPartition[] = s.populations.map((x) => ({
    pop: x.pop, kind: x.kind as Population["kind"], slices: x.slices, bytes: x.bytes, lowerBound: x.lower_bound,
  }));
  checkPopulationList(g, populations, slices, file);
  const accel = s.accel ? checkAccel(g, hw, s.accel, file) : undefined;
  const part: Partition = { slices, populations, usableBytes: usable, pes: 0, lowerBound: 0, ...(accel ? { accel } : {}) };
  populations.forEach((pp, k) => {
    const p = g.populations.find((q) => q.name === pp.pop)!;
    checkCover(p, pp, k, slices, file);
    if (p.kind === "Readout") checkMirrors(p, pp, k, part, file);
    else checkMemory(g, p, pp, k, part, file, hw);
  });
  const pes = slices.filter((x) => x.mirrors < 0).length;
  const lowerBound = populations.reduce((a, pp) => a + pp.lowerBound, 0);
  if (s.pes !== pes) fail(file, "pes", "the PE count is not the number of PEs the slices use", String(pes), String(s.pes));
  if (s.lower_bound !== lowerBound) fail(file, "lower_bound", "the lower bound is not the sum of the populations' lower bounds", String(lowerBound), String(s.lower_bound));
  inSection(file, "slices", () => checkKeyLimits(part));
  return { ...part, pes, lowerBound };
}

/** A version-4 mapping's accelerated paths: projections the MAC array can run, populations with incoming weights. */
function checkAccel(g: Graph, hw: HardwareDescription, a: { mac: string[]; dram: string[] }, file?: string) {
  a.mac.forEach((n, i) => {
    const j = g.projections.find((x) => x.name === n);
    if (!j) fail(file, `accel.mac[${i}]`, "a projection on the MAC array is not in the graph", "a projection name", JSON.stringify(n));
    const why = macRefusal(g, hw, j!);
    if (why) fail(file, `accel.mac[${i}]`, `projection ${n} cannot run on the MAC array: ${why}`, "a projection the array can run", JSON.stringify(n));
  });
  a.dram.forEach((n, i) => {
    if (!g.projections.some((j) => j.target === n)) fail(file, `accel.dram[${i}]`, "a population with weights in DRAM has no incoming projection in the graph", "a population name", JSON.stringify(n));
  });
  return { mac: a.mac, dram: a.dram };
}

/** Populations: the graph's computed ones in graph order; each slice listed by its population once, ids ascending. */
function checkPopulationList(g: Graph, populations: PopulationPartition[], slices: Slice[], file?: string): void {
  const computed = g.populations.filter((p) => p.kind !== "Input");
  const names = (xs: { name?: string; pop?: string }[]) => xs.map((x) => x.name ?? x.pop).join(", ");
  if (populations.length !== computed.length) {
    fail(file, "populations", "the populations are not the graph's computed populations", `[${names(computed)}]`, `[${names(populations)}]`);
  }
  const owner = new Int32Array(slices.length).fill(-1);
  computed.forEach((p, k) => {
    const pp = populations[k];
    if (pp.pop !== p.name || pp.kind !== p.kind) fail(file, `populations[${k}]`, "a population is not the graph's population in that place", `${p.name} (${p.kind})`, `${pp.pop} (${pp.kind})`);
    pp.slices.forEach((sid, j) => {
      const at = `populations[${k}].slices[${j}]`;
      if (sid >= slices.length) fail(file, at, "a population's slice list names no slice", `a slice id below ${slices.length}`, String(sid));
      if (owner[sid] >= 0) fail(file, at, "a slice is listed twice", "each slice listed once", `slice ${sid} again`);
      if (j > 0 && sid < pp.slices[j - 1]) fail(file, at, "a population lists its slices out of order", `an id above ${pp.slices[j - 1]}`, String(sid));
      if (slices[sid].pop !== p.name) fail(file, `slices[${sid}].pop`, "a slice names another population than the one listing it", JSON.stringify(p.name), JSON.stringify(slices[sid].pop));
      owner[sid] = k;
    });
  });
  const orphan = owner.indexOf(-1);
  if (orphan >= 0) fail(file, `slices[${orphan}]`, "a slice belongs to no population's slice list", "a slice some population lists", `slice ${orphan} of ${slices[orphan].pop}`);
}

/** A population's slices cover its units [0, size) contiguously, in order, without overlap. */
function checkCover(p: Population, pp: PopulationPartition, k: number, slices: Slice[], file?: string): void {
  let next = 0;
  for (const sid of pp.slices) {
    const s = slices[sid];
    if (s.lo !== next || s.hi <= s.lo) fail(file, `slices[${sid}]`, `the slices of ${p.name} do not continue its units`, `units [${next}, …) with hi > lo`, `[${s.lo}, ${s.hi})`);
    next = s.hi;
  }
  if (next !== p.size) fail(file, `populations[${k}].slices`, `the slices of ${p.name} do not cover its units`, `units up to ${p.size}`, `up to ${next}`);
}

/** A Readout's slices mirror its source's, one for one: same range and PE, no bytes of their own. */
function checkMirrors(p: Population & { kind: "Readout" }, pp: PopulationPartition, k: number, part: Partition, file?: string): void {
  const src = part.populations.find((x) => x.pop === p.source);
  if (!src || src.slices.length !== pp.slices.length) {
    fail(file, `populations[${k}].slices`, `the slices of readout ${p.name} do not mirror those of ${p.source}, which it reads`, `${src?.slices.length ?? "(no slices)"} slices`, `${pp.slices.length}`);
  }
  if (pp.bytes !== 0 || pp.lowerBound !== 0) fail(file, `populations[${k}]`, `readout ${p.name} has bytes or a lower bound of its own`, "bytes 0, lower_bound 0", `${pp.bytes}, ${pp.lowerBound}`);
  pp.slices.forEach((sid, j) => {
    const s = part.slices[sid], m = part.slices[src.slices[j]];
    if (s.mirrors !== m.id || s.lo !== m.lo || s.hi !== m.hi || s.pe !== m.pe || s.bytes !== 0 || s.fixedBytes !== 0) {
      fail(file, `slices[${sid}]`, `a slice of readout ${p.name} does not mirror slice ${m.id} of ${p.source}`, `mirrors ${m.id}, units [${m.lo}, ${m.hi}), pe ${m.pe}, no bytes`,
        `mirrors ${s.mirrors}, units [${s.lo}, ${s.hi}), pe ${s.pe}, bytes ${s.bytes}/${s.fixedBytes}`);
    }
  });
}

/** A computed population's slices: bytes as the memory model counts them, within the usable SRAM; its lower bound. */
function checkMemory(g: Graph, p: Population, pp: PopulationPartition, k: number, part: Partition, file?: string, hw?: HardwareDescription): void {
  const { fixed: base, perUnit } = memoryModel(g, p, part.accel ? { mac: part.accel.mac, dram: part.accel.dram, dramBurst: hw?.dram.burst_bytes.value } : {});
  const fixed = splitFixedBytes(p, base, pp.slices.length);
  let units = 0;
  for (const b of perUnit) units += b;
  const total = fixed + units;
  for (const sid of pp.slices) {
    const s = part.slices[sid];
    let bytes = fixed;
    for (let u = s.lo; u < s.hi; u++) bytes += perUnit[u];
    if (s.mirrors !== -1) fail(file, `slices[${sid}].mirrors`, `a slice of ${p.name} mirrors another, but ${p.name} is no readout`, "-1", String(s.mirrors));
    if (s.bytes !== bytes || s.fixedBytes !== fixed) {
      fail(file, `slices[${sid}].bytes`, `a slice's bytes are not what the memory model gives for ${p.name}[${s.lo}:${s.hi}]`, `${bytes} (fixed ${fixed})`, `${s.bytes} (fixed ${s.fixedBytes})`);
    }
    if (bytes > part.usableBytes) fail(file, `slices[${sid}].bytes`, `a slice of ${p.name} does not fit a PE's usable SRAM`, `at most ${part.usableBytes}`, String(bytes));
  }
  const lowerBound = memoryLowerBound(p, base, units, part.usableBytes);
  if (pp.bytes !== total || pp.lowerBound !== lowerBound) {
    fail(file, `populations[${k}]`, `population ${p.name}'s bytes and lower bound are not its memory model's`, `${total}, ${lowerBound}`, `${pp.bytes}, ${pp.lowerBound}`);
  }
}

// ---- placement --------------------------------------------------------------------------------------------

/**
 * PEs are numbered 0 … pes − 1 and each number is a fixed place on the described machine (locate); a
 * placement is which slice sits on which of them. So: every location is locate's, the machine's extent is
 * the one those PEs occupy, each own slice has a PE of its own, and the host injects at a router that exists.
 */
function decodePlacement(hw: HardwareDescription, part: Partition, p: StoredMapping["placement"], file?: string): Placement {
  if (p.pes.length !== part.pes) fail(file, "placement.pes", "the placement does not locate each PE the slices use", `${part.pes} locations`, `${p.pes.length}`);
  p.pes.forEach((loc, i) => {
    const want = locate(hw, i);
    if (loc.pe !== i || loc.chip !== want.chip || loc.qpe !== want.qpe || loc.core !== want.core || loc.x !== want.x || loc.y !== want.y) {
      fail(file, `placement.pes[${i}]`, `PE ${i} is not where the described machine has it`, JSON.stringify(want), JSON.stringify(loc));
    }
  });
  const extent = machineExtent(hw, part.pes);
  for (const key of ["chips", "boards", "width", "height"] as const) {
    if (p[key] !== extent[key]) fail(file, `placement.${key}`, `the placement's ${key} is not what ${part.pes} PEs occupy`, String(extent[key]), String(p[key]));
  }
  const holder = new Int32Array(part.pes).fill(-1);
  for (const s of part.slices) {
    if (s.mirrors >= 0) continue;
    if (s.pe >= part.pes) fail(file, `slices[${s.id}].pe`, "a slice names no PE of the placement", `a PE below ${part.pes}`, String(s.pe));
    if (holder[s.pe] >= 0) fail(file, `slices[${s.id}].pe`, `two slices are placed on PE ${s.pe}`, "one slice per PE (readouts mirror theirs)", `slice ${holder[s.pe]} and slice ${s.id}`);
    holder[s.pe] = s.id;
  }
  const placement: Placement = { pes: p.pes.map((l) => ({ ...l })), ...extent, host: { x: p.host.x, y: p.host.y } };
  if (!routerPresence(hw, placement)(p.host.x, p.host.y)) {
    fail(file, "placement.host", "the host's router is not a router of the placement's mesh", `a QPE position within ${extent.width} × ${extent.height}`, `(${p.host.x}, ${p.host.y})`);
  }
  return placement;
}

// ---- routing ----------------------------------------------------------------------------------------------

/** The stored tables, within the router limits, walked for every emitter: the walk rebuilds the emitters. */
function decodeRouting(g: Graph, hw: HardwareDescription, part: Partition, placement: Placement, routes: StoredMapping["routes"], file?: string): Routing {
  const width = placement.width, cells = width * placement.height, perQpe = hw.chip.pes_per_qpe.value;
  const present = routerPresence(hw, placement);
  const tables = new Map<number, RouteEntry[]>();
  const pathOf = new Map<RouteEntry, string>();
  routes.forEach((t, i) => {
    const x = t.router % width, y = Math.floor(t.router / width);
    if (t.router >= cells || !present(x, y)) fail(file, `routes[${i}].router`, "a table's router is not a router of the placement's mesh", `y · ${width} + x of a QPE position`, String(t.router));
    if (tables.has(t.router)) fail(file, `routes[${i}].router`, "a router has two tables", "one table per router", `router ${t.router} again`);
    tables.set(t.router, t.entries.map(([key, mask, links, cores], j) => {
      if (perQpe < 32 && cores >>> perQpe) fail(file, `routes[${i}].entries[${j}]`, "an entry delivers to cores its QPE does not have", `core bits below ${perQpe}`, String(cores));
      const e: RouteEntry = { key, mask, links, cores };
      pathOf.set(e, `routes[${i}].entries[${j}]`);
      return e;
    }));
  });
  const { maxEntries, totalEntries } = inSection(file, "routes", () => checkTableLimits(tables, width, hw));
  const destinations = destinationsByPopulation(g, part);
  const emitters = emittersOf(g, part, placement, destinations);
  const reductions = reductionEmittersOf(part, placement);
  const peAt = peIndex(placement, hw);
  const used = new Set<RouteEntry>();
  for (const e of emitters) {
    const walk = inSection(file, "routes", () => walkKey(tables, e.key, e.x, e.y, placement, hw, peAt, used));
    const want = destinations[e.popIndex];
    if (walk.dests.length !== want.length || walk.dests.some((d, i) => d !== want[i])) {
      const who = e.slice < 0 ? `the host's input events (key ${e.key})` : `slice ${e.slice} of ${part.slices[e.slice].pop} (key ${e.key})`;
      fail(file, "routes", `the tables deliver ${who} to the wrong PEs`, `PEs [${want}], which hold the target slices of its projections`, `PEs [${walk.dests}]`);
    }
    resolveEmitter(e, walk);
  }
  for (const e of reductions) {
    const walk = inSection(file, "routes", () => walkKey(tables, e.key, e.x, e.y, placement, hw, peAt, used));
    const want = reductionDestinations(part, e.slice);
    if (walk.dests.length !== want.length || walk.dests.some((d, i) => d !== want[i])) {
      fail(file, "routes", `the tables deliver the partial sums of slice ${e.slice} of ${part.slices[e.slice].pop} (reduction key ${e.key}) to the wrong PEs`,
        `PEs [${want}], which hold the population's other slices`, `PEs [${walk.dests}]`);
    }
    resolveEmitter(e, walk);
  }
  for (const [entry, at] of pathOf) {
    if (!used.has(entry)) fail(file, at, "an entry is matched by no packet (a stale or shadowed entry)", "entries on the emitters' multicast trees only", `key ${entry.key}, mask ${entry.mask}`);
  }
  return { emitters, reductions, tables, maxEntries, totalEntries };
}

// ---- errors -----------------------------------------------------------------------------------------------

function refused(file: string | undefined, path: string, what: string, expected: string, found: string, hint = RECOMPILE): NmcError {
  return new NmcError(`section ${MAPPING_SECTION}: ${what}`, { file, node: NODE, path, expected, found, hint });
}

function fail(file: string | undefined, path: string, what: string, expected: string, found: string): never {
  throw refused(file, path, what, expected, found);
}

/** Runs a check shared with the compiler (route.ts), naming the section and file in its refusals. */
function inSection<T>(file: string | undefined, path: string, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (!(e instanceof NmcError)) throw e;
    throw new NmcError(`section ${MAPPING_SECTION}: ${e.message}`, { ...e.fields(), file, node: NODE, path: e.path ?? path, hint: e.hint ?? RECOMPILE });
  }
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}
