// Fuzz: the IR protobuf (ir/codec.ts decodeGraph) and the bundle container (ir/bundle.ts decodeBundle +
// bundleGraph), each property FUZZ_RUNS cases:
//  1. decodeGraph on encodeGraph outputs (float and quantized seed graphs) with byte mutations;
//  2. decodeGraph on structurally mutated Graph messages (fields deleted, replaced by wrong types / huge /
//     negative numbers, array elements duplicated, ... then re-encoded so that the protobuf is well-formed);
//  3. decodeBundle on mutated bundle bytes: the container promises that every changed byte is refused, so
//     any change must give an NmcError (and unchanged bytes must decode to the same graph);
//  4. re-sealed bundles: the IR section mutated (bytes or structure) and the bundle re-encoded with
//     encodeBundle so every checksum passes: decodeBundle must accept it, and bundleGraph must refuse the
//     IR with an NmcError or return a graph that verifyGraph accepts and that runs on the golden engine;
//  5. re-sealed manifests: the manifest bytes mutated and the header's length and checksum recomputed.
// Accepted graphs go through checkAcceptedGraph (verify + run, NmcError only).
import { createHash } from "node:crypto";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { NmcError } from "../../ir/errors.js";
import { type BundleInput, IR_SECTION, IR_SECTION_KIND, bundleGraph, decodeBundle, encodeBundle, irSection } from "../../ir/bundle.js";
import { decodeGraph, encodeGraph, messageType } from "../../ir/codec.js";
import { printGraph } from "../../ir/print.js";
import { mapGraph, mappingSection } from "../../targets/spinnaker2/index.js";
import { SPINNAKER2 } from "../../targets/spinnaker2/chip.js";
import {
  FUZZ_TEST_TIMEOUT_MS, FuzzBug, applyByteOps, knownTally, attemptClean, byteOpsArb, concat, fuzzParams, jsonOpsArb, mutateJson, sameBytes, tryParseJson,
} from "../support/fuzz.js";
import { checkAcceptedGraph, seedGraphs } from "../support/fuzz-graphs.js";

const FILE = "fuzz.nmb";
const seeds = seedGraphs();
const allGraphs = [...seeds.float, ...seeds.quantized];
const encoded = allGraphs.map(encodeGraph);
const graphIndexArb = fc.nat({ max: allGraphs.length - 1 });
const quantIndexArb = fc.nat({ max: seeds.quantized.length - 1 });

const FIXED = { createdAt: "2025-01-02T03:04:05.000Z", nmcVersion: "0.1.0-fuzz" };

/** A golden bundle and a spinnaker2 bundle (with its mapping section) per quantized seed graph. */
function bundleInput(i: number, irData?: Uint8Array): BundleInput {
  const g = seeds.quantized[i]!;
  const ir = irData ? { name: IR_SECTION, kind: IR_SECTION_KIND, data: irData } : irSection(g);
  if (i % 2 === 0) return { modelName: g.name, target: "golden", sections: [ir], ...FIXED };
  return {
    modelName: g.name, target: "spinnaker2", hardwareJson: JSON.stringify(SPINNAKER2), meta: { k: "v" },
    sections: [ir, mappingSection(mapGraph(g))], cores: [{ id: 0, placement: "x0y0", sectionNames: [IR_SECTION] }], ...FIXED,
  };
}
const bundles = seeds.quantized.map((_, i) => encodeBundle(bundleInput(i)));

const PbGraph = messageType("Graph");

/** The graph as a plain protobuf object (bytes as number arrays), for structural mutation. */
function plainGraph(bytes: Uint8Array): unknown {
  return PbGraph.toObject(PbGraph.decode(bytes), { enums: String, longs: Number, bytes: Array, defaults: false, arrays: true, objects: true });
}
const plains = encoded.map(plainGraph);
/** Paths inside tensor byte arrays are left to the byte mutators. */
const notInBytes = (p: (string | number)[]) => !(p.length >= 2 && p[p.length - 2] === "data" && typeof p[p.length - 1] === "number");

/** Re-encodes a mutated plain object; undefined when the mutation cannot be written as a Graph message. */
function reencode(text: string): Uint8Array | undefined {
  const parsed = tryParseJson(text);
  if (!parsed.ok) return undefined;
  try {
    return PbGraph.encode(PbGraph.fromObject(parsed.value as Record<string, unknown>)).finish();
  } catch {
    return undefined; // the harness could not build this message; not an input nmc ever sees
  }
}

/** decodeGraph's outcome: NmcError, or an accepted graph that verifies and runs. */
function checkDecodeGraph(bytes: Uint8Array, original?: Uint8Array): "accepted" | "refused" {
  const r = attemptClean("decodeGraph", () => decodeGraph(bytes));
  if (!r.ok) return "refused";
  if (original && sameBytes(bytes, original)) {
    // Unchanged bytes: the same graph (printed text compared: it covers every field nmc shows).
    const again = encodeGraph(r.value);
    if (!sameBytes(again, original)) throw new FuzzBug("unchanged IR bytes did not round-trip through decodeGraph/encodeGraph");
  }
  attemptClean("printGraph", () => printGraph(r.value));
  checkAcceptedGraph(r.value, "decodeGraph");
  return "accepted";
}

describe("fuzz: IR protobuf (decodeGraph)", () => {
  it(`byte mutations of encodeGraph outputs (${fuzzParams().numRuns} cases)`, () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(graphIndexArb, byteOpsArb, (i, ops) => {
        const bytes = applyByteOps(encoded[i]!, ops);
        seen[checkDecodeGraph(bytes, encoded[i])]++;
      }),
      fuzzParams(),
    );
    expect(seen.refused).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it(`structural mutations of Graph messages (${fuzzParams().numRuns} cases)`, () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(graphIndexArb, jsonOpsArb, (i, ops) => {
        const m = mutateJson(plains[i], ops, notInBytes);
        const bytes = reencode(m.text);
        fc.pre(bytes !== undefined);
        seen[checkDecodeGraph(bytes!)]++;
      }),
      { ...fuzzParams(), maxSkipsPerRun: 1000 },
    );
    expect(seen.refused).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);
});

describe("fuzz: bundles (decodeBundle, bundleGraph)", () => {
  it(`every byte mutation of a bundle is refused with an NmcError (${fuzzParams().numRuns} cases)`, () => {
    fc.assert(
      fc.property(quantIndexArb, byteOpsArb, (i, ops) => {
        const good = bundles[i]!;
        const bad = applyByteOps(good, ops);
        const r = attemptClean("decodeBundle", () => decodeBundle(bad, FILE));
        if (sameBytes(good, bad)) {
          if (!r.ok) throw new FuzzBug(`unchanged bundle refused: ${r.error.format()}`);
          checkAcceptedGraph(bundleGraph(r.value, FILE), "bundleGraph");
          return;
        }
        if (!r.ok && r.known) return;
        if (r.ok) throw new FuzzBug(`decodeBundle accepted changed bytes (${bad.length} bytes, was ${good.length})`);
        if (r.error.file !== FILE || !/^byte \d+$/.test(r.error.path ?? "")) throw new FuzzBug(`NmcError without file / byte path: ${r.error.format()}`);
      }),
      fuzzParams(),
    );
  }, FUZZ_TEST_TIMEOUT_MS);

  /** A re-sealed bundle must decode; its IR must be refused cleanly or verify and run. */
  function checkResealed(i: number, irData: Uint8Array): "accepted" | "refused" {
    const enc = attemptClean("encodeBundle", () => encodeBundle(bundleInput(i, irData)));
    if (!enc.ok) throw new FuzzBug(`encodeBundle refused an opaque IR section: ${enc.error.format()}`);
    const dec = attemptClean("decodeBundle", () => decodeBundle(enc.value, FILE));
    if (!dec.ok) throw new FuzzBug(`decodeBundle refused a bundle encodeBundle wrote: ${dec.error.format()}`);
    const g = attemptClean("bundleGraph", () => bundleGraph(dec.value, FILE));
    if (!g.ok) {
      if (!g.known && g.error.file !== FILE) throw new FuzzBug(`bundleGraph's NmcError does not name the file: ${g.error.format()}`);
      return "refused";
    }
    checkAcceptedGraph(g.value, "bundleGraph");
    return "accepted";
  }

  it(`re-sealed bundles with a byte-mutated IR section (${fuzzParams().numRuns} cases)`, () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(quantIndexArb, byteOpsArb, (i, ops) => {
        seen[checkResealed(i, applyByteOps(encodeGraph(seeds.quantized[i]!), ops))]++;
      }),
      fuzzParams(),
    );
    expect(seen.refused).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it(`re-sealed bundles with a structurally mutated IR section (${fuzzParams().numRuns} cases)`, () => {
    const seen = { accepted: 0, refused: 0 };
    const qPlains = seeds.quantized.map((g) => plainGraph(encodeGraph(g)));
    fc.assert(
      fc.property(quantIndexArb, jsonOpsArb, (i, ops) => {
        const bytes = reencode(mutateJson(qPlains[i], ops, notInBytes).text);
        fc.pre(bytes !== undefined);
        seen[checkResealed(i, bytes!)]++;
      }),
      { ...fuzzParams(), maxSkipsPerRun: 1000 },
    );
    expect(seen.refused).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it(`re-sealed manifests (manifest bytes mutated, header length and checksum recomputed) (${fuzzParams().numRuns} cases)`, () => {
    fc.assert(
      fc.property(quantIndexArb, byteOpsArb, (i, ops) => {
        const good = bundles[i]!;
        const dv = new DataView(good.buffer, good.byteOffset, good.byteLength);
        const mlen = dv.getUint32(8, true);
        const manifest = applyByteOps(good.subarray(48, 48 + mlen), ops);
        const header = good.slice(0, 48);
        new DataView(header.buffer).setUint32(8, manifest.length, true);
        header.set(createHash("sha256").update(manifest).digest(), 16);
        const bytes = concat(header, manifest, good.subarray(48 + mlen));
        const r = attemptClean("decodeBundle", () => decodeBundle(bytes, FILE));
        if (!r.ok) return;
        // Accepted: every section it lists lies inside the file, and the IR is refused cleanly or runs.
        for (const s of r.value.manifest.sections) {
          if (!(s.offset >= 48 + manifest.length && s.offset + s.length <= bytes.length)) throw new FuzzBug(`section ${s.name} at ${s.offset}+${s.length} outside the file`);
          if (r.value.sections.get(s.name)?.data.length !== s.length) throw new FuzzBug(`section ${s.name} data length mismatch`);
        }
        const g = attemptClean("bundleGraph", () => bundleGraph(r.value, FILE));
        if (g.ok) checkAcceptedGraph(g.value, "bundleGraph");
      }),
      fuzzParams(),
    );
  }, FUZZ_TEST_TIMEOUT_MS);
});

describe("fuzz findings (pinned)", () => {
  // Regression (was a bug) (found by this fuzzer; KNOWN_BUGS "codec-huge-tensor-shape"): ir/codec.ts tensorFromPb computes
  // length = product(shape) and calls typedArrayFor(dtype, length) BEFORE checking the byte count, so a Graph
  // message whose tensor shape is e.g. [1e9, 1e9, 1e9] makes decodeGraph (and bundleGraph, `nmc run m.nmb`)
  // throw "RangeError: Invalid typed array length: 1e+27" instead of an NmcError; a shape like [2^28] with
  // 4 data bytes allocates 1 GiB first. Expected: NmcError "tensor bytes do not match its shape".
  it("decodeGraph refuses a tensor with a huge shape with an NmcError (regression: it threw RangeError)", () => {
    const obj = plainGraph(encodeGraph(seeds.float[0]!)) as { projections: { weights: { values: { shape: number[] } } }[] };
    obj.projections[0]!.weights.values.shape = [1e9, 1e9, 1e9];
    const bytes = PbGraph.encode(PbGraph.fromObject(obj)).finish();
    expect(() => decodeGraph(bytes)).toThrow(NmcError);
  });
});

afterAll(() => {
  if (knownTally.size) console.log(`fuzz ir-bundle: known-bug hits ${JSON.stringify(Object.fromEntries(knownTally))}`);
});
