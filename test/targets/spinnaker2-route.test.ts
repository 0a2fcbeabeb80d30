// spinnaker2 routing at scale: property test over random many-PE mappings (partition shapes, graph edges and
// chip structures drawn at random, weights irrelevant to routing), checked by the independent table walk of
// test/support/spinnaker2.ts: every emitter's key reaches each router at most once (no loop, no duplicate),
// is delivered to exactly the PEs of its targets, and no table lies at a mesh position without a QPE.
//
// Regression: route() built each multicast tree as the union of the destinations' dimension-order paths,
// X then Y, or Y then X where X then Y crosses one of the 4 empty positions of a chip's 7 × 6 mesh. Mixing the
// two orders in one tree makes a DAG, not a tree: a router reached both by an X-then-Y path and by a
// Y-then-X path gets the packet from two neighbours (a duplicate, which `resolve` reported as "routing loop for
// key 9175040 at router (5, 4)" on a synthetic 3 × 1024 EGRU of 146 PEs). Paths are now grafted onto the tree.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NmcError } from "../../ir/errors.js";
import type { Graph, Population, Projection } from "../../ir/types.js";
import { type HardwareDescription, SPINNAKER2 } from "../../targets/spinnaker2/chip.js";
import type { Mapping } from "../../targets/spinnaker2/index.js";
import type { Partition, Slice } from "../../targets/spinnaker2/partition.js";
import { place } from "../../targets/spinnaker2/place.js";
import { route } from "../../targets/spinnaker2/route.js";
import { routersWithoutQpe, routingViolations, withFigures } from "../support/spinnaker2.js";

interface Shape {
  /** Slices per computed population (in graph order). */
  slices: number[];
  /** Extra edges [source, target] between computed populations (any direction: skips, feedback, self). */
  extra: [number, number][];
  /** Readout of the last population (mirrors its slices). */
  readout: boolean;
}

/** A graph whose populations and projections have the given shape (no weights: route() reads names only). */
function shapeGraph(s: Shape): { g: Graph; part: Partition } {
  const unitsPer = 3;
  const pops: Population[] = [{ name: "x", kind: "Input", size: 4 } as unknown as Population];
  s.slices.forEach((n, i) => pops.push({ name: `p${i}`, kind: "Dense", size: n * unitsPer } as unknown as Population));
  const projs: Projection[] = [];
  const edge = (a: string, b: string, delay: number) => projs.push({ name: `${a}->${b}#${projs.length}`, source: a, target: b, delay } as unknown as Projection);
  edge("x", "p0", 0);
  for (let i = 1; i < s.slices.length; i++) edge(`p${i - 1}`, `p${i}`, 0);
  for (const [a, b] of s.extra) edge(`p${a % s.slices.length}`, `p${b % s.slices.length}`, 1);
  const slices: Slice[] = [];
  const populations: Partition["populations"] = [];
  s.slices.forEach((n, i) => {
    const ids: number[] = [];
    for (let k = 0; k < n; k++) {
      ids.push(slices.length);
      slices.push({ id: slices.length, pop: `p${i}`, popIndex: i + 1, lo: k * unitsPer, hi: (k + 1) * unitsPer, pe: -1, bytes: 1, fixedBytes: 0, mirrors: -1 });
    }
    populations.push({ pop: `p${i}`, kind: "Dense", slices: ids, bytes: n, lowerBound: n });
  });
  if (s.readout) {
    const last = s.slices.length - 1;
    const src = populations[last];
    pops.push({ name: "readout", kind: "Readout", size: pops[last + 1].size, source: `p${last}` } as unknown as Population);
    const ids = src.slices.map((sid) => {
      const m = slices[sid];
      slices.push({ id: slices.length, pop: "readout", popIndex: pops.length - 1, lo: m.lo, hi: m.hi, pe: -1, bytes: 0, fixedBytes: 0, mirrors: sid });
      return slices.length - 1;
    });
    populations.push({ pop: "readout", kind: "Readout", slices: ids, bytes: 0, lowerBound: 0 });
  }
  const pes = s.slices.reduce((a, b) => a + b, 0);
  const g = { name: "shape", populations: pops, projections: projs, inputs: ["x"], outputs: [s.readout ? "readout" : `p${s.slices.length - 1}`] } as unknown as Graph;
  return { g, part: { slices, populations, usableBytes: 1, pes, lowerBound: pes } };
}

/** Chip structures: the default (38 QPEs on 7 × 6, 4 holes) and random connected meshes with holes, tables unlimited. */
const unlimited = { "noc.qpe_router_entries": 1e6, "noc.chip_router_entries": 1e6 };
const hwArb: fc.Arbitrary<HardwareDescription> = fc.oneof(
  fc.constant(withFigures(unlimited, SPINNAKER2)),
  fc
    .record({ w: fc.integer({ min: 1, max: 5 }), h: fc.integer({ min: 1, max: 5 }), holes: fc.nat({ max: 4 }), perQpe: fc.integer({ min: 1, max: 4 }), bw: fc.integer({ min: 1, max: 4 }) })
    .map(({ w, h, holes, perQpe, bw }) => {
      // Holes (the snake's last positions) only within a last row that is not the only one: chips stay
      // connected to their neighbours (a chip whose edge facing a neighbour is all holes has no link there).
      const qpes = w * h - (h > 1 ? Math.min(holes, w - 1) : 0);
      return withFigures({
        ...unlimited, "chip.grid_width": w, "chip.grid_height": h, "chip.qpes": qpes, "chip.pes_per_qpe": perQpe, "chip.pes": qpes * perQpe,
        "board.grid_width": bw, "board.grid_height": 8, "board.chips": bw * 8,
      });
    }),
);

const shapeArb = (maxSlices: number): fc.Arbitrary<Shape> =>
  fc.record({
    slices: fc.array(fc.integer({ min: 1, max: maxSlices }), { minLength: 1, maxLength: 6 }),
    extra: fc.array(fc.tuple(fc.nat({ max: 5 }), fc.nat({ max: 5 })), { maxLength: 4 }),
    readout: fc.boolean(),
  });

function mapShape(s: Shape, hw: HardwareDescription): { g: Graph; m: Mapping } {
  const { g, part } = shapeGraph(s);
  const placement = place(part, hw);
  const routing = route(g, part, placement, hw);
  return { g, m: { hw, partition: part, placement, routing } };
}

describe("spinnaker2 routing on random many-PE mappings", () => {
  it("the 146-PE, 3-population shape of the synthetic 3 × 1024 EGRU routes on the default chip (was a routing loop)", () => {
    // Slices per layer as the partitioner cuts that model (input → e0 → e1 → e2 → readout, recurrent edges).
    for (const slices of [[49, 48, 49], [48, 49, 49], [40, 50, 56], [50, 50, 52]]) {
      const { g, m } = mapShape({ slices, extra: [[0, 0], [1, 1], [2, 2]], readout: true }, withFigures(unlimited, SPINNAKER2));
      expect(routingViolations(g, m)).toEqual([]);
      expect(routersWithoutQpe(m)).toEqual([]);
    }
  });

  it("chips stacked in one column (board 1 chip wide): paths that neither dimension order can take detour around the holes", () => {
    // Chip 0's holes are (0…3, 5); a packet from (0, 4) to (0, 6) in chip 1 has no X-then-Y or Y-then-X path.
    const hw = withFigures({ ...unlimited, "board.grid_width": 1, "board.grid_height": 48 }, SPINNAKER2);
    const { g, m } = mapShape({ slices: [150, 150, 150], extra: [[2, 0], [1, 1]], readout: true }, hw);
    expect(m.placement.chips).toBe(3);
    expect(routingViolations(g, m)).toEqual([]);
    expect(routersWithoutQpe(m)).toEqual([]);
  });

  it("a mesh cut apart by empty positions is an NmcError naming the unreachable PE (not a crash)", () => {
    // Chips of a 2 × 1 mesh with one QPE: the second position is empty, so chip 0 has no link to chip 1.
    const hw = withFigures({ ...unlimited, "chip.grid_width": 2, "chip.grid_height": 1, "chip.qpes": 1, "chip.pes_per_qpe": 1, "chip.pes": 1, "board.grid_width": 2, "board.grid_height": 8, "board.chips": 16 });
    expect(() => mapShape({ slices: [2], extra: [], readout: false }, hw)).toThrow(NmcError);
    expect(() => mapShape({ slices: [2], extra: [], readout: false }, hw)).toThrow(/no route from router \(0, 0\) to PE 1 at \(2, 0\)/);
  });

  it("a described mesh of millions of positions routes without a grid sized by it (fuzz: a 12.9e9-cell grid)", () => {
    const hw = withFigures({ ...unlimited, "chip.grid_width": 131072, "chip.grid_height": 131072 }, SPINNAKER2);
    const { g, m } = mapShape({ slices: [3, 2], extra: [[1, 0]], readout: true }, hw);
    expect(routingViolations(g, m)).toEqual([]);
  });

  it("every emitter's tree reaches each router once and delivers to exactly its targets' PEs", () => {
    fc.assert(
      fc.property(hwArb, shapeArb(80), (hw, s) => {
        const { g, m } = mapShape(s, hw);
        expect(routingViolations(g, m)).toEqual([]);
        expect(routersWithoutQpe(m)).toEqual([]);
        // Trees are no longer than needed where a dimension-order path exists: depth ≤ mesh diameter + detours.
        for (const e of m.routing.emitters) expect(e.depth).toBeLessThanOrEqual(m.placement.width * m.placement.height);
      }),
      { numRuns: 150, seed: 8 },
    );
  });
});
