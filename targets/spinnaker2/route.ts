// Route: multicast key/mask tables per QPE router. Every emitter (a slice whose population feeds a
// projection, or the host injecting input events) owns one routing key per neuron: key = slice << 16 |
// local neuron index, matched by mask 0xFFFF0000, so one table entry per router covers the whole slice.
// The multicast tree from the emitter's router to every destination PE is built from dimension-order paths
// (X then Y; Y then X where that crosses an empty mesh position; a breadth-first detour where both do), each
// grafted onto the tree so far so that every router receives a packet once; each router on it gets one entry
// saying which links to forward on and which of its local PEs take the packet. Table sizes are checked
// against the hardware description.
//
// A population cut into several slices whose update needs sums over all its units (a LayerNorm larger than
// a PE) also gets, per slice, a reduction key (after the host's) whose tree reaches the population's other
// slices: every tick each slice multicasts its partial sums on it (all-to-all; see docs/hardware.md).
//
// `walkKey` then walks the tables as the hardware would (match key, forward, deliver) to find where an
// emitter's packets land and how many hops they take; the simulator delivers by that walk's result, so a
// wrong table gives wrong outputs, which the bit-exact comparison with the golden engine would catch.
// Loading a bundle (mapping.ts) walks the stored tables with the same `walkKey`: the walk is both how the
// emitters are rebuilt and the check that the tables deliver what the partition needs.
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import type { HardwareDescription } from "./chip.js";
import type { Partition } from "./partition.js";
import type { Placement } from "./place.js";
import { S2_OPS } from "./ops.js";

export const KEY_SHIFT = 16;
export const SLICE_MASK = 0xffff0000;

/** Link directions: east, north, west, south. */
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];

export interface RouteEntry {
  key: number;
  mask: number;
  /** Bit d set: forward on link d (0 E, 1 N, 2 W, 3 S). */
  links: number;
  /** Bit c set: deliver to local core c of this QPE (unsigned 32 bits: chip.pes_per_qpe ≤ ROUTE_CORE_BITS). */
  cores: number;
}

export interface Emitter {
  /** Slice id (Partition.slices), or −1 for the host's input emitter. */
  slice: number;
  popIndex: number;
  key: number;
  lo: number;
  hi: number;
  x: number;
  y: number;
  /** Filled by resolve: destination PEs, routers traversed per packet, chip crossings, longest path in routers. */
  dests: Int32Array;
  hops: number;
  chipHops: number;
  depth: number;
}

export interface Routing {
  emitters: Emitter[];
  /**
   * The cross-PE reductions' emitters: one per slice of a population cut into several slices whose update
   * needs sums over all its units (a LayerNorm, S2_OPS reduction); its key's multicast tree reaches the other
   * slices of the population. Keys follow the host's (reductionEmittersOf).
   */
  reductions: Emitter[];
  /** Router id (y · width + x) → its entries. */
  tables: Map<number, RouteEntry[]>;
  maxEntries: number;
  totalEntries: number;
}

function chipOf(x: number, y: number, hw: HardwareDescription, width: number): number {
  return Math.floor(y / hw.chip.grid_height.value) * Math.ceil(width / hw.chip.grid_width.value) + Math.floor(x / hw.chip.grid_width.value);
}

/** The PEs that must receive the events of each population (every slice of every target), by population index. */
export function destinationsByPopulation(g: Graph, part: Partition): number[][] {
  const slicesOf = new Map<string, number[]>();
  for (const pp of part.populations) slicesOf.set(pp.pop, pp.slices);
  const index = new Map<string, number>();
  g.populations.forEach((p, i) => index.set(p.name, i));
  const sets = g.populations.map(() => new Set<number>());
  for (const j of g.projections) {
    const src = index.get(j.source);
    const ids = slicesOf.get(j.target);
    if (src === undefined || !ids) continue;
    for (const sid of ids) sets[src].add(part.slices[sid].pe);
  }
  return sets.map((s) => [...s].sort((a, b) => a - b));
}

/** Meshes up to this many positions get lookup grids (presence, visited marks); larger ones are answered sparsely. */
const GRID_LIMIT = 1 << 22;

/**
 * Which mesh positions hold a router: the first `chip.qpes` positions of each chip's snake, on the placement's
 * chips. A lookup grid for meshes of ordinary size; a described mesh of millions of positions (a user's --hw
 * exploring a design) is answered by the formula itself rather than by a grid sized by the description.
 */
export function routerPresence(hw: HardwareDescription, placement: Placement): (x: number, y: number) => boolean {
  const width = placement.width, height = placement.height;
  const W = hw.chip.grid_width.value, Hq = hw.chip.grid_height.value, bw = hw.board.grid_width.value;
  const presentAt = (x: number, y: number): boolean => {
    if (x < 0 || y < 0 || x >= width || y >= height) return false;
    const cx = Math.floor(x / W), cy = Math.floor(y / Hq);
    const chip = cy % 2 === 0 ? cy * bw + cx : cy * bw + (bw - 1 - cx);
    if (chip >= placement.chips) return false;
    const qx = x % W, qy = y % Hq;
    const local = qy * W + (qy % 2 === 0 ? qx : W - 1 - qx);
    return local < hw.chip.qpes.value;
  };
  const cells = width * height;
  if (cells > GRID_LIMIT) return presentAt;
  const grid = new Uint8Array(cells);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) grid[y * width + x] = presentAt(x, y) ? 1 : 0;
  return (x, y) => x >= 0 && y >= 0 && x < width && y < height && grid[y * width + x] === 1;
}

export function route(g: Graph, part: Partition, placement: Placement, hw: HardwareDescription): Routing {
  const width = placement.width;
  const tables = new Map<number, RouteEntry[]>();
  const present = routerPresence(hw, placement);
  const cells = width * placement.height;
  /** Dimension-order path (X then Y, or Y then X) as link directions, or null if it crosses an empty position. */
  const path = (sx: number, sy: number, tx: number, ty: number, xFirst: boolean): number[] | null => {
    const dirs: number[] = [];
    let x = sx, y = sy;
    while (x !== tx || y !== ty) {
      const moveX = xFirst ? x !== tx : y === ty;
      const d = moveX ? (tx > x ? 0 : 2) : ty > y ? 1 : 3;
      dirs.push(d);
      x += DX[d];
      y += DY[d];
      if (!present(x, y)) return null;
    }
    return dirs;
  };
  /** A shortest path over the routers that exist (breadth-first), for when neither dimension order avoids the holes. */
  const detour = (sx: number, sy: number, tx: number, ty: number): number[] | null => {
    // Visited marks: a typed array for ordinary meshes, a Map (sized by what the search reaches) for huge ones.
    const grid = cells <= GRID_LIMIT ? new Int8Array(cells).fill(-1) : null;
    const sparse = grid ? null : new Map<number, number>();
    const getFrom = (id: number): number => (grid ? grid[id] : sparse!.get(id) ?? -1);
    const setFrom = (id: number, d: number): void => { if (grid) grid[id] = d; else sparse!.set(id, d); };
    const start = sy * width + sx, goal = ty * width + tx;
    const queue = [start];
    setFrom(start, 4);
    for (let q = 0; q < queue.length && getFrom(goal) < 0; q++) {
      const id = queue[q], x = id % width, y = (id - x) / width;
      for (let d = 0; d < 4; d++) {
        const nx = x + DX[d], ny = y + DY[d], nid = ny * width + nx;
        if (!present(nx, ny) || getFrom(nid) >= 0) continue;
        setFrom(nid, d);
        queue.push(nid);
      }
    }
    if (getFrom(goal) < 0) return null;
    const dirs: number[] = [];
    for (let id = goal; id !== start; ) {
      const d = getFrom(id);
      dirs.push(d);
      id -= DY[d] * width + DX[d];
    }
    return dirs.reverse();
  };
  /**
   * The multicast tree of one key: a router receives each packet once, from one parent, so the tree's routers
   * and links must form a tree. Each destination's path (X then Y, else Y then X, else a detour) is grafted
   * onto the tree built so far at the last router of the path that the tree already reaches; only the rest
   * of the path (routers the tree does not reach yet) gets new links. (The union of dimension-order paths is
   * not a tree once X-then-Y and Y-then-X paths mix: a router reached by both gets the packet twice, and the
   * duplicate then travels on as a second copy — the routing loop this grafting rules out.) For X-then-Y
   * paths alone the union is already a tree and grafting changes nothing.
   */
  const addTree = (key: number, sx: number, sy: number, dests: number[]) => {
    const tree = new Map<number, RouteEntry>();
    const newEntry = (id: number): RouteEntry => {
      const e: RouteEntry = { key, mask: SLICE_MASK, links: 0, cores: 0 };
      tree.set(id, e);
      let list = tables.get(id);
      if (!list) tables.set(id, (list = []));
      list.push(e);
      return e;
    };
    newEntry(sy * width + sx);
    for (const pe of dests) {
      const loc = placement.pes[pe];
      const dirs = path(sx, sy, loc.x, loc.y, true) ?? path(sx, sy, loc.x, loc.y, false) ?? detour(sx, sy, loc.x, loc.y);
      if (!dirs) {
        throw new NmcError(`no route from router (${sx}, ${sy}) to PE ${pe} at (${loc.x}, ${loc.y}) over the mesh's QPEs`, {
          hint: "the hardware description's empty mesh positions (chip.qpes < grid_width × grid_height) cut the chips apart; describe chips whose edges have QPEs (--hw)",
        });
      }
      // The last router on the path that the tree already reaches.
      let x = sx, y = sy, graft = 0, gx = sx, gy = sy;
      for (let i = 0; i < dirs.length; i++) {
        x += DX[dirs[i]];
        y += DY[dirs[i]];
        if (tree.has(y * width + x)) {
          graft = i + 1;
          gx = x;
          gy = y;
        }
      }
      let cur = tree.get(gy * width + gx)!;
      x = gx;
      y = gy;
      for (let i = graft; i < dirs.length; i++) {
        cur.links |= 1 << dirs[i];
        x += DX[dirs[i]];
        y += DY[dirs[i]];
        cur = newEntry(y * width + x);
      }
      cur.cores = (cur.cores | (1 << loc.core)) >>> 0;
    }
  };
  checkKeyLimits(part);
  const destinations = destinationsByPopulation(g, part);
  const emitters = emittersOf(g, part, placement, destinations);
  const reductions = reductionEmittersOf(part, placement);
  for (const e of emitters) addTree(e.key, e.x, e.y, destinations[e.popIndex]);
  for (const e of reductions) addTree(e.key, e.x, e.y, reductionDestinations(part, e.slice));
  const { maxEntries, totalEntries } = checkTableLimits(tables, width, hw);
  const r: Routing = { emitters, reductions, tables, maxEntries, totalEntries };
  const peAt = peIndex(placement, hw);
  const check = (e: Emitter, intended: number[]) => {
    resolveEmitter(e, walkKey(tables, e.key, e.x, e.y, placement, hw, peAt));
    if (e.dests.length !== intended.length || e.dests.some((d, i) => d !== intended[i])) {
      throw new Error(`routing tables deliver key ${e.key} to PEs [${e.dests}] instead of [${intended}]`);
    }
  };
  for (const e of emitters) check(e, destinations[e.popIndex]);
  for (const e of reductions) check(e, reductionDestinations(part, e.slice));
  return r;
}

/**
 * The populations whose slices exchange partial sums every tick: cut into more than one slice, with an
 * S2_OPS reduction (a LayerNorm larger than a PE). In partition order, with their slice ids.
 */
export function reductionGroups(part: Partition): { pop: string; popIndex: number; slices: number[] }[] {
  return part.populations
    .filter((pp) => pp.slices.length > 1 && (S2_OPS[pp.kind] as { reduction?: unknown }).reduction !== undefined)
    .map((pp) => ({ pop: pp.pop, popIndex: part.slices[pp.slices[0]].popIndex, slices: pp.slices }));
}

/**
 * The routing keys of the cross-PE reductions: for every slice of every reduction group (in that order) one
 * key, (slices + 1 + i) << 16 for the i-th, after the host's key (slices << 16). Slice id → key.
 */
export function reductionKeys(part: Partition): Map<number, number> {
  const keys = new Map<number, number>();
  let field = part.slices.length + 1;
  for (const grp of reductionGroups(part)) for (const sid of grp.slices) keys.set(sid, (field++ << KEY_SHIFT) >>> 0);
  return keys;
}

/**
 * The reduction emitters of a partition, unresolved: one per slice of each reduction group, with its key
 * (reductionKeys), sent from its slice's PE. Each tick it carries one packet: the slice's partial sums.
 */
export function reductionEmittersOf(part: Partition, placement: Placement): Emitter[] {
  return [...reductionKeys(part)].map(([sid, key]) => {
    const s = part.slices[sid], loc = placement.pes[s.pe];
    return { slice: sid, popIndex: s.popIndex, key, lo: s.lo, hi: s.hi, x: loc.x, y: loc.y, dests: new Int32Array(0), hops: 0, chipHops: 0, depth: 0 };
  });
}

/** The PEs a slice's partial sums must reach: those of the other slices of its population, ascending. */
export function reductionDestinations(part: Partition, slice: number): number[] {
  const s = part.slices[slice];
  const pp = part.populations.find((x) => x.pop === s.pop)!;
  return pp.slices.filter((id) => id !== slice).map((id) => part.slices[id].pe).sort((a, b) => a - b);
}

/**
 * A routing key holds a slice id and a unit index of 16 bits each (the host's key takes one more slice id, and
 * each slice of a cross-PE reduction one more after it).
 */
export function checkKeyLimits(part: Partition): void {
  if (part.slices.length >= 0xffff) throw new NmcError(`${part.slices.length} slices: routing keys hold at most 65534`);
  const reducing = reductionGroups(part).reduce((a, grp) => a + grp.slices.length, 0);
  if (part.slices.length + reducing >= 0xffff) {
    throw new NmcError(`${part.slices.length} slices and ${reducing} reduction keys: routing keys hold at most 65534 of both together`);
  }
  for (const s of part.slices) {
    if (s.hi - s.lo > 0xffff) throw new NmcError(`slice ${s.id} of ${s.pop} has ${s.hi - s.lo} units: a routing key addresses at most 65535`);
  }
}

/**
 * The emitters of a partition, unresolved (no destinations yet): the host's input emitter first, then every
 * slice whose population has destinations, in slice order. A Readout's slice (it mirrors its source's, on the
 * same PE) emits only when the Readout feeds a projection (a decoder after it): its own key, from its source's
 * PE. Keys, ranges and source routers follow from the partition and placement alone; the tables say where
 * packets go. A Readout that feeds nothing has no emitter, so such mappings are unchanged.
 */
export function emittersOf(g: Graph, part: Partition, placement: Placement, destinations: number[][] = destinationsByPopulation(g, part)): Emitter[] {
  const unresolved = () => ({ dests: new Int32Array(0), hops: 0, chipHops: 0, depth: 0 });
  const input = g.populations.findIndex((p) => p.name === g.inputs[0]);
  const hostKey = (part.slices.length << KEY_SHIFT) >>> 0;
  const emitters: Emitter[] = [
    { slice: -1, popIndex: input, key: hostKey, lo: 0, hi: g.populations[input].size, x: placement.host.x, y: placement.host.y, ...unresolved() },
  ];
  for (const s of part.slices) {
    if (destinations[s.popIndex].length === 0) continue;
    const loc = placement.pes[s.pe];
    emitters.push({ slice: s.id, popIndex: s.popIndex, key: (s.id << KEY_SHIFT) >>> 0, lo: s.lo, hi: s.hi, x: loc.x, y: loc.y, ...unresolved() });
  }
  return emitters;
}

/** Entries per QPE router and keys per chip router against the description's limits; returns the table sizes. */
export function checkTableLimits(tables: Map<number, RouteEntry[]>, width: number, hw: HardwareDescription): { maxEntries: number; totalEntries: number } {
  let maxEntries = 0, totalEntries = 0;
  const qpeLimit = hw.noc.qpe_router_entries.value;
  for (const [id, list] of tables) {
    maxEntries = Math.max(maxEntries, list.length);
    totalEntries += list.length;
    if (list.length > qpeLimit) {
      throw new NmcError(`router (${id % width}, ${Math.floor(id / width)}) needs ${list.length} routing entries`, {
        expected: `at most ${qpeLimit} (noc.qpe_router_entries)`, found: String(list.length),
        hint: "fewer, larger slices (a PE with more SRAM) or a description with larger tables (--hw)",
      });
    }
  }
  // Chip routers: one entry per key crossing into or out of the chip.
  const chipKeys = new Map<number, Set<number>>();
  for (const [id, list] of tables) {
    const x = id % width, y = Math.floor(id / width);
    const c = chipOf(x, y, hw, width);
    for (const e of list) {
      for (let d = 0; d < 4; d++) {
        if (!(e.links & (1 << d))) continue;
        const c2 = chipOf(x + DX[d], y + DY[d], hw, width);
        if (c2 === c) continue;
        for (const cc of [c, c2]) {
          if (!chipKeys.has(cc)) chipKeys.set(cc, new Set());
          chipKeys.get(cc)!.add(e.key);
        }
      }
    }
  }
  for (const [c, keys] of chipKeys) {
    if (keys.size > hw.noc.chip_router_entries.value) {
      throw new NmcError(`chip ${c} router needs ${keys.size} entries`, { expected: `at most ${hw.noc.chip_router_entries.value}`, found: String(keys.size) });
    }
  }
  return { maxEntries, totalEntries };
}

/** PE by (router id · pes_per_qpe + core): which PE a table entry's core bit delivers to. */
export function peIndex(placement: Placement, hw: HardwareDescription): Map<number, number> {
  const perQpe = hw.chip.pes_per_qpe.value, width = placement.width;
  const peAt = new Map<number, number>();
  for (const loc of placement.pes) peAt.set((loc.y * width + loc.x) * perQpe + loc.core, loc.pe);
  return peAt;
}

/** Where one key's packets go from router (x, y): PEs delivered to (sorted), routers passed, chip crossings, depth. */
export interface KeyWalk {
  dests: number[];
  hops: number;
  chipHops: number;
  depth: number;
}

/**
 * Walks the tables from router (x, y) as the hardware would: match the key (first matching entry), deliver to
 * the entry's cores, forward on its links. A router reached twice (a loop or a duplicate), a router without a
 * matching entry, a link off the mesh or a core bit where no PE sits is an NmcError. `used` collects the
 * entries the walk matched (the loader refuses stored entries no packet uses).
 */
export function walkKey(tables: Map<number, RouteEntry[]>, key: number, x0: number, y0: number, placement: Placement,
  hw: HardwareDescription, peAt: Map<number, number>, used?: Set<RouteEntry>): KeyWalk {
  const width = placement.width, height = placement.height, perQpe = hw.chip.pes_per_qpe.value;
  const dests: number[] = [];
  let hops = 0, chipHops = 0, depth = 0;
  const queue: [number, number, number][] = [[x0, y0, 0]];
  const seen = new Set<number>();
  for (let q = 0; q < queue.length; q++) {
    const [x, y, dist] = queue[q];
    if (x < 0 || y < 0 || x >= width || y >= height) throw new NmcError(`packet with key ${key} forwarded off the mesh to (${x}, ${y})`);
    const id = y * width + x;
    if (seen.has(id)) throw new NmcError(`routing loop for key ${key} at router (${x}, ${y})`);
    seen.add(id);
    const entry = tables.get(id)?.find((v) => ((key & v.mask) >>> 0) === v.key);
    if (!entry) throw new NmcError(`packet with key ${key} dropped at router (${x}, ${y}): no matching entry`);
    used?.add(entry);
    hops++; // every router the packet passes through, the source's included
    depth = Math.max(depth, dist + 1);
    for (let c = 0; c < perQpe; c++) {
      if (!((entry.cores >>> c) & 1)) continue;
      const pe = peAt.get(id * perQpe + c);
      if (pe === undefined) throw new NmcError(`packet with key ${key} delivered to core ${c} of router (${x}, ${y}), where no PE of the placement is`);
      dests.push(pe);
    }
    for (let d = 0; d < 4; d++) {
      if (!(entry.links & (1 << d))) continue;
      const nx = x + DX[d], ny = y + DY[d];
      if (chipOf(x, y, hw, width) !== chipOf(nx, ny, hw, width)) chipHops++;
      queue.push([nx, ny, dist + 1]);
    }
  }
  dests.sort((a, b) => a - b);
  return { dests, hops, chipHops, depth };
}

/** Fills an emitter's destinations and costs from its walk. */
export function resolveEmitter(e: Emitter, w: KeyWalk): void {
  e.dests = Int32Array.from(w.dests);
  e.hops = w.hops;
  e.chipHops = w.chipHops;
  e.depth = w.depth;
}
