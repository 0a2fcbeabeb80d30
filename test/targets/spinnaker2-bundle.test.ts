// The spinnaker2 bundle is the lowered artifact (targets/spinnaker2/mapping.ts): loading decodes the stored
// partition, placement and routing tables, verifies them without recomputing them, and the simulator runs
// from what is stored.
//  (a) a stored placement other than the placer's choice (two slices' PEs swapped, routes rebuilt for it) but
//      valid loads, runs as stored (the per-PE counters name the swapped PEs), is bit-exact with the golden
//      engine, and recheckMapping reports how today's compiler would differ;
//  (b) stored routes made inconsistent (an entry dropped, a core bit cleared or added, a link moved, a stale
//      entry) and other tampering are refused with an NmcError naming the file and the section;
//  (c) mappingSection → bundle → loadMapping gives back a Mapping equal to the original.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { type Bundle, decodeBundle, encodeBundle, irSection, readBundle, writeBundle } from "../../ir/bundle.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import type { HardwareDescription } from "../../targets/spinnaker2/chip.js";
import {
  loadMapping, mapGraph, type Mapping, MAPPING_FORMAT, MAPPING_SECTION, MAPPING_VERSION, MAPPING_VERSION_ACCEL, MAPPING_VERSION_REDUCTIONS, mappingSection, recheckMapping,
} from "../../targets/spinnaker2/index.js";
import { route } from "../../targets/spinnaker2/route.js";
import { buildModel, makeBatch, modelArb, quantOptsArb, quantizeFor } from "../support/quant-models.js";
import { type ChipShape, firstDifference, goldenTrace, hwWithUsable, minimumUsableBytes, routingViolations, simTrace } from "../support/spinnaker2.js";

const FILE = "mapped.nmb";
const NODE = `section ${MAPPING_SECTION}`;
const dir = mkdtempSync(join(tmpdir(), "nmc-s2-bundle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A random small quantized model on a shrunk PE memory (populations cut into slices), some on many chips. */
const caseArb = fc.record({
  spec: modelArb({ maxSize: 9, maxState: 5 }),
  quant: quantOptsArb(),
  shape: fc.constantFrom<ChipShape>("default", "small", "wide"),
  slack: fc.constantFrom(0, 0, 0.3),
  inputSeed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function mapped(c: Case): { q: Graph; hw: HardwareDescription; m: Mapping } {
  const g = buildModel(c.spec);
  const q = quantizeFor(g, makeBatch(g, c.spec.seed ^ 0x5bd1e995, 4, 6, 1), c.quant);
  const need = minimumUsableBytes(q);
  const hw = hwWithUsable(need + Math.floor(c.slack * need), c.shape);
  return { q, hw, m: mapGraph(q, hw) };
}

/** A spinnaker2 bundle as nmc compile writes it: the IR, the mapping section, the hardware description. */
function bundleOf(g: Graph, hw: HardwareDescription, section = mappingSection(mapGraph(g, hw))): Bundle {
  return decodeBundle(encodeBundle({
    modelName: g.name, target: "spinnaker2", hardwareJson: JSON.stringify(hw), createdAt: "2025-01-01T00:00:00Z", nmcVersion: "0",
    sections: [irSection(g), section],
  }), FILE);
}

/** The stored JSON of a mapping, to tamper with, and back into a bundle. */
const stored = (m: Mapping) => JSON.parse(new TextDecoder().decode(mappingSection(m).data));
const bundleOfJson = (g: Graph, hw: HardwareDescription, json: unknown) =>
  bundleOf(g, hw, { name: MAPPING_SECTION, kind: "application/json; spinnaker2 mapping", data: new TextEncoder().encode(JSON.stringify(json)) });

/** The NmcError loading refuses `b` with (fails the test when it loads). */
function refusal(b: Bundle, g: Graph): NmcError {
  try {
    loadMapping(b, g, FILE);
  } catch (e) {
    if (e instanceof NmcError) return e;
    throw e;
  }
  throw new Error("the bundle loaded; expected a refusal");
}

function expectSectionRefusal(e: NmcError): void {
  expect(e.file).toBe(FILE);
  expect(e.node).toBe(NODE);
  expect(e.format()).toMatch(new RegExp(`^${FILE}: .*section spinnaker2\\.mapping`));
}

/** The same mapping with the PEs of own slices a and b swapped (readouts follow), routed for that placement. */
function withSwappedPes(g: Graph, m: Mapping, a: number, b: number): Mapping {
  const partition = structuredClone(m.partition);
  const own = partition.slices.filter((s) => s.mirrors < 0);
  [own[a].pe, own[b].pe] = [own[b].pe, own[a].pe];
  for (const s of partition.slices) if (s.mirrors >= 0) s.pe = partition.slices[s.mirrors].pe;
  const placement = structuredClone(m.placement);
  return { hw: m.hw, partition, placement, routing: route(g, partition, placement, m.hw) };
}

describe("a stored placement other than the placer's runs as stored", () => {
  it("two slices' PEs swapped: loads, per-PE counters name the swapped PEs, bit-exact with golden, recheck reports it", () => {
    let swapped = 0;
    fc.assert(
      fc.property(caseArb, fc.nat(), fc.nat(), (c, i, j) => {
        const { q, hw, m } = mapped(c);
        const own = m.partition.slices.filter((s) => s.mirrors < 0);
        if (own.length < 2) return;
        const a = i % own.length, b = (a + 1 + (j % (own.length - 1))) % own.length;
        const want = withSwappedPes(q, m, a, b);
        expect(routingViolations(q, want)).toEqual([]);
        const loaded = loadMapping(bundleOf(q, hw, mappingSection(want)), q, FILE);
        expect(loaded).toEqual(want);
        const [sa, sb] = [own[a], own[b]];
        expect(loaded.partition.slices[sa.id].pe).toBe(sb.pe);
        expect(loaded.partition.slices[sb.id].pe).toBe(sa.pe);

        const batch = makeBatch(q, c.inputSeed, 2, 4, 1);
        const sim = simTrace(q, loaded, batch);
        expect(firstDifference(q, batch, goldenTrace(q, batch), sim)).toBeNull();
        const peOf = (s: typeof sa) => sim.run.pes.find((p) => p.slice === `${s.pop}[${s.lo}:${s.hi}]`)?.pe;
        expect(peOf(sa)).toBe(sb.pe);
        expect(peOf(sb)).toBe(sa.pe);

        const diffs = recheckMapping(q, loaded);
        expect(diffs).toContain(`placement: slice ${sa.id} (${sa.pop}) stored on PE ${sb.pe}, recomputed on PE ${sa.pe}`);
        expect(recheckMapping(q, loadMapping(bundleOf(q, hw), q, FILE))).toEqual([]);
        swapped++;
      }),
      { numRuns: 30 },
    );
    expect(swapped).toBeGreaterThan(10);
  });
});

type RouteJson = { router: number; entries: [number, number, number, number][] }[];
const MUTATIONS = ["drop entry", "clear core bit", "add core bit", "move link", "stale entry"] as const;

/** Tampers with one entry of the stored tables; false when the tables have no entry the mutation applies to. */
function tamper(routes: RouteJson, kind: (typeof MUTATIONS)[number], pick: number, perQpe: number): boolean {
  const all = routes.flatMap((t, ti) => t.entries.map((e, ei) => ({ t, ti, e, ei })));
  const fit = all.filter(({ e }) => (kind === "clear core bit" ? e[3] !== 0 : kind === "move link" ? e[2] !== 0 : kind === "add core bit" ? (e[3] >>> 0) !== 2 ** perQpe - 1 : true));
  if (fit.length === 0) return false;
  const { t, ti, e } = fit[pick % fit.length];
  const low = (bits: number) => bits & -bits;
  if (kind === "drop entry") {
    t.entries.splice(t.entries.indexOf(e), 1);
    if (t.entries.length === 0) routes.splice(ti, 1);
  } else if (kind === "clear core bit") {
    e[3] = (e[3] & ~low(e[3])) >>> 0;
  } else if (kind === "add core bit") {
    e[3] = (e[3] | low(~e[3])) >>> 0;
  } else if (kind === "move link") {
    e[2] = (e[2] & ~low(e[2])) | low(~e[2] & 15);
  } else {
    t.entries.push([0xfffe0000, 0xffff0000, 0, 0]);
  }
  return true;
}

describe("stored routes that are inconsistent are refused, naming the section", () => {
  it("an entry dropped, a core bit cleared or added, a link moved, a stale entry: NmcError", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(caseArb, fc.constantFrom(...MUTATIONS), fc.nat(), (c, kind, pick) => {
        const { q, hw, m } = mapped(c);
        const json = stored(m);
        if (!tamper(json.routes, kind, pick, hw.chip.pes_per_qpe.value)) return;
        const e = refusal(bundleOfJson(q, hw, json), q);
        expectSectionRefusal(e);
        expect(e.path).toMatch(/^routes/);
        seen.add(kind);
      }),
      { numRuns: 60 },
    );
    expect([...seen].sort()).toEqual([...MUTATIONS].sort());
  });

  const c: Case = {
    spec: { seed: 99, encoding: "values", inputs: 4, layers: [{ kind: "egru", size: 9, state: 1, act: "relu" }, { kind: "ssm", size: 5, state: 3, act: "relu" }], skip: true, feedback: true, readout: "mean", weightScale: 1, pruneFraction: 0.5 },
    quant: { weightBits: 8, stateBits: 16, range: { kind: "max" } }, shape: "small", slack: 0, inputSeed: 1,
  };
  const { q, hw, m } = mapped(c);
  const refused = (edit: (json: ReturnType<typeof stored>) => void, path: RegExp, message?: RegExp) => {
    const json = stored(m);
    edit(json);
    const e = refusal(bundleOfJson(q, hw, json), q);
    expectSectionRefusal(e);
    expect(e.path).toMatch(path);
    if (message) expect(e.message).toMatch(message);
    return e;
  };

  it("the fixture spans several PEs and chips", () => {
    expect(m.partition.pes).toBeGreaterThan(4);
    expect(m.placement.chips).toBeGreaterThan(1);
  });

  // (Swapping two slices of one population on one QPE would keep the tables right: same router, same targets.)
  it("the first and last slices' PEs swapped without rebuilding the routes: refused (the tables deliver to the old PEs)", () => {
    refused((j) => {
      const own = j.slices.filter((s: { mirrors: number }) => s.mirrors < 0);
      const [first, last] = [own[0], own[own.length - 1]];
      expect(first.pop).not.toBe(last.pop);
      [first.pe, last.pe] = [last.pe, first.pe];
      for (const s of j.slices) if (s.mirrors >= 0) s.pe = j.slices[s.mirrors].pe;
    }, /^routes/, /wrong PEs|no PE|dropped/);
  });

  it("partition and placement tampering: bytes, ranges, a PE holding two slices, locations, extent", () => {
    refused((j) => (j.slices[0].bytes += 1), /^slices\[0\]\.bytes$/, /memory model/);
    refused((j) => (j.slices[0].hi -= 1), /^slices\[/);
    refused((j) => (j.slices[1].pe = j.slices[0].pe), /^slices\[1\]\.pe$/, /two slices/);
    refused((j) => (j.placement.pes[1].x += 1), /^placement\.pes\[1\]$/);
    refused((j) => (j.placement.chips += 1), /^placement\.chips$/);
    refused((j) => (j.populations[0].lower_bound += 1), /^populations\[0\]$/);
    refused((j) => (j.routes[0].router = 10 ** 6), /^routes\[0\]\.router$/);
    refused((j) => (j.slices[0].pe = -1), /^slices\[0\]\.pe$/, /malformed/);
  });

  it("a mapping made for another PE memory than the manifest's description: refused at usable_bytes", () => {
    const e = refusal(bundleOf(q, hwWithUsable(minimumUsableBytes(q) * 3, "small"), mappingSection(m)), q);
    expectSectionRefusal(e);
    expect(e.path).toBe("usable_bytes");
  });

  it("a mapping section of the previous format (no version): refused with the hint to recompile", () => {
    const e = refused((j) => {
      delete j.format;
      delete j.version;
    }, /^version$/, /earlier nmc/);
    expect(e.hint).toMatch(/recompile/);
    refused((j) => (j.version = MAPPING_VERSION + 1), /^version$/, /version/);
    refused((j) => (j.version = MAPPING_VERSION_ACCEL + 1), /^version$/, /not one this nmc reads/);
    refused((j) => (j.format = "something else"), /^format$/);
  });

  it("the bundle's target, hardware description and section are checked first", () => {
    const b = bundleOf(q, hw, mappingSection(m));
    expect(() => loadMapping({ ...b, manifest: { ...b.manifest, target: "cuda" } }, q, FILE)).toThrow(/compiled for target cuda/);
    expect(() => loadMapping({ ...b, manifest: { ...b.manifest, hardwareJson: "{" } }, q, FILE)).toThrow(NmcError);
    const e = refusal({ ...b, sections: new Map([...b.sections].filter(([n]) => n !== MAPPING_SECTION)) }, q);
    expect(e.file).toBe(FILE);
    expect(e.message).toMatch(/no spinnaker2\.mapping section/);
  });
});

describe("mappingSection → loadMapping round trip", () => {
  it("random models and machines: the loaded Mapping equals the compiled one", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { q, hw, m } = mapped(c);
        const section = mappingSection(m);
        const json = JSON.parse(new TextDecoder().decode(section.data));
        // Version 3 only for a mapping with cross-PE reductions (a LayerNorm cut over several PEs), else 2.
        expect([json.format, json.version]).toEqual([MAPPING_FORMAT, m.routing.reductions.length ? MAPPING_VERSION_REDUCTIONS : MAPPING_VERSION]);
        expect(loadMapping(bundleOf(q, hw, section), q, FILE)).toEqual(m);
      }),
      { numRuns: 30 },
    );
  });

  it("through a bundle file on disk", () => {
    const g = buildModel({ seed: 5, encoding: "values", inputs: 3, layers: [{ kind: "dense", size: 7, state: 1, act: "tanh" }, { kind: "egru", size: 6, state: 1, act: "relu" }], skip: false, feedback: true, readout: "last", weightScale: 1, pruneFraction: 0.3 });
    const q = quantizeFor(g, makeBatch(g, 3, 4, 6, 1), { weightBits: 16, stateBits: 32, range: { kind: "max" } });
    const hw = hwWithUsable(minimumUsableBytes(q), "small");
    const m = mapGraph(q, hw);
    const path = join(dir, "m.nmb");
    writeBundle(path, { modelName: "m", target: "spinnaker2", hardwareJson: JSON.stringify(hw), sections: [irSection(q), mappingSection(m)] });
    expect(loadMapping(readBundle(path), q, path)).toEqual(m);
  });
});
