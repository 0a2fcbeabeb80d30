// Fuzz: SpiNNaker 2 hardware descriptions (--hw; targets/spinnaker2/chip.ts parseHardware, read from a file
// by cli/spinnaker2.ts loadHardware). FUZZ_RUNS mutations of the default SPINNAKER2 object (deleted keys,
// wrong types, huge / negative / fractional numbers, NaN / Infinity literals, duplicated levels and keys).
// Oracle: an NmcError, or a description that maps each small quantized seed graph with mapGraph, raising
// nothing but NmcError (a design too small for the model is a clean refusal). A further property fuzzes the
// spinnaker2.mapping section of a bundle (targets/spinnaker2/mapping.ts loadMapping).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { loadMapping as bundleMapping } from "../../targets/spinnaker2/mapping.js";
import { loadHardware } from "../../targets/spinnaker2/target.js";
import { decodeBundle, encodeBundle, irSection } from "../../ir/bundle.js";
import { NmcError } from "../../ir/errors.js";
import { SPINNAKER2 } from "../../targets/spinnaker2/chip.js";
import { MAPPING_SECTION, mapGraph, mappingSection } from "../../targets/spinnaker2/index.js";
import { FUZZ_TEST_TIMEOUT_MS, FuzzBug, applyByteOps, attemptClean, byteOpsArb, fuzzParams, jsonOpsArb, jsonPaths, knownTally, mutateJson } from "../support/fuzz.js";
import { seedGraphs } from "../support/fuzz-graphs.js";

const dir = mkdtempSync(join(tmpdir(), "nmc-fuzz-hw-"));
const HW_FILE = join(dir, "hw.json");
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (knownTally.size) console.log(`fuzz hardware: known-bug hits ${JSON.stringify(Object.fromEntries(knownTally))}`);
});
const seeds = seedGraphs();

describe("fuzz: hardware descriptions", () => {
  it(`mutated SPINNAKER2 descriptions: NmcError, or they map the seed graphs (${fuzzParams().numRuns} cases)`, () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(jsonOpsArb, fc.nat({ max: seeds.quantized.length - 1 }), (ops, gi) => {
        writeFileSync(HW_FILE, mutateJson(SPINNAKER2, ops).text);
        const hw = attemptClean("loadHardware", () => loadHardware(HW_FILE));
        if (!hw.ok) {
          if (!hw.known && hw.error.file !== HW_FILE) throw new FuzzBug(`NmcError without the file: ${hw.error.format()}`);
          seen.refused++;
          return;
        }
        seen.accepted++;
        attemptClean("mapGraph", () => mapGraph(seeds.quantized[gi]!, hw.value));
      }),
      fuzzParams(),
    );
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.accepted).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it(`re-sealed spinnaker2 bundles with a mutated mapping section (${fuzzParams().numRuns} cases)`, () => {
    const g = seeds.quantized[0]!;
    const section = mappingSection(mapGraph(g));
    const mapping = JSON.parse(new TextDecoder().decode(section.data));
    fc.assert(
      fc.property(fc.oneof(jsonOpsArb.map((ops) => ({ ops })), byteOpsArb.map((bytes) => ({ bytes }))), (m) => {
        const data = "ops" in m ? new TextEncoder().encode(mutateJson(mapping, m.ops).text) : applyByteOps(section.data, m.bytes);
        const bytes = encodeBundle({
          modelName: "g", target: "spinnaker2", hardwareJson: JSON.stringify(SPINNAKER2), createdAt: "2025-01-01T00:00:00Z", nmcVersion: "0",
          sections: [irSection(g), { name: MAPPING_SECTION, kind: section.kind, data }],
        });
        const b = decodeBundle(bytes, "fuzz.nmb");
        attemptClean("bundleMapping", () => bundleMapping(b, g, "fuzz.nmb"));
      }),
      fuzzParams(),
    );
  }, FUZZ_TEST_TIMEOUT_MS);
});

describe("routing-entry core bits", () => {
  // Regression (was a bug) (found by this suite, seed 33): swapping chip.qpes and chip.pes_per_qpe gave 38 PEs
  // per QPE; the router's per-entry core bitmask (`1 << core`) wrapped for cores ≥ 32, so route()'s self-check
  // threw a plain Error ("routing tables deliver key 196608 to PEs [0,]") instead of the description being refused.
  it("38 PEs per QPE (qpes and pes_per_qpe swapped) is refused at chip.pes_per_qpe", () => {
    // The fuzzer found it as pick 1733876949 (then path 7). The paths of chip.qpes and chip.pes_per_qpe are looked
    // up by name, as fields added to the description (cycles.multiply_unit, the figures' grades) move their indices.
    const paths = jsonPaths(SPINNAKER2).map((q) => q.join("."));
    const pick = paths.indexOf("chip.qpes"), other = paths.indexOf("chip.pes_per_qpe");
    expect(Math.min(pick, other)).toBeGreaterThanOrEqual(0);
    writeFileSync(HW_FILE, mutateJson(SPINNAKER2, [{ op: "swap", pick, other }]).text);
    let err: unknown;
    try {
      loadHardware(HW_FILE);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NmcError);
    expect((err as NmcError).format()).toMatch(/chip\.pes_per_qpe[\s\S]*at most 32 PEs per QPE/);
  });

  // (test/targets/spinnaker2.test.ts routes packets to core 31 of a 32-PE QPE and checks simulator = golden.)
});

describe("mapping sections the mutators reach rarely", () => {
  const g = seedGraphs().quantized[0]!;
  const slices = (JSON.parse(new TextDecoder().decode(mappingSection(mapGraph(g)).data)) as { slices: unknown[] }).slices.length;
  const bundleWithMapping = (text: string) =>
    decodeBundle(encodeBundle({
      modelName: "g", target: "spinnaker2", hardwareJson: JSON.stringify(SPINNAKER2), createdAt: "2025-01-01T00:00:00Z", nmcVersion: "0",
      sections: [irSection(g), { name: MAPPING_SECTION, kind: "application/json", data: new TextEncoder().encode(text) }],
    }), "x.nmb");
  const refusedCleanly = (text: string) => expect(() => bundleMapping(bundleWithMapping(text), g, "x.nmb")).toThrow(NmcError);

  for (const text of ["[]", "1", '"s"', "{}", '{"slices":null}', '{"slices":[1,2,3,4,5,6,7,8]}']) {
    it(`mapping section ${text}: NmcError`, () => refusedCleanly(text));
  }

  // Regression (was a bug) (found by this suite): targets/spinnaker2/index.ts mappingFromSection reads `json.slices` without
  // checking that the section's JSON is an object: a mapping section holding `null` makes bundleMapping
  // (`nmc run m.nmb --engine spinnaker2`, `nmc verify`) throw "TypeError: Cannot read properties of null
  // (reading 'slices')" instead of the NmcError "section spinnaker2.mapping does not match ...".
  it("mapping section null: NmcError (regression: it threw TypeError)", () => refusedCleanly("null"));

  // Regression (was a bug) (same function): with `slices` an array of the right length whose entries are null, `s.pop` throws
  // "TypeError: Cannot read properties of null (reading 'pop')". Expected: NmcError.
  it("mapping section with null slices: NmcError (regression: it threw TypeError)", () => refusedCleanly(JSON.stringify({ slices: Array(slices).fill(null) })));
});
