// Route: multicast key/mask tables per QPE router. Every emitter (a slice whose population feeds a
// projection, or the host injecting input events) owns one routing key per neuron: key = slice << 16 |
// local neuron index, matched by mask 0xFFFF0000, so one table entry per router covers the whole slice.
// The multicast tree from the emitter's router to every destination PE is the union of dimension-order
// (X then Y) paths; each router on it gets one entry saying which links to forward on and which of its local
// PEs take the packet. Table sizes are checked against the hardware description.
//
// `resolve` then walks the tables as the hardware would (match key, forward, deliver) to find where an
// emitter's packets land and how many hops they take; the simulator delivers by that walk's result, so a
// wrong table gives wrong outputs, which the bit-exact comparison with the golden engine would catch.
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import type { HardwareDescription } from "./chip.js";
import type { Partition } from "./partition.js";
import type { Placement } from "./place.js";

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
  /** Bit c set: deliver to local core c of this QPE. */
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
  /** Router id (y · width + x) → its entries. */
  tables: Map<number, RouteEntry[]>;
  maxEntries: number;
  totalEntries: number;
}

function chipOf(x: number, y: number, hw: HardwareDescription, width: number): number {
  return Math.floor(y / hw.chip.grid_height.value) * Math.ceil(width / hw.chip.grid_width.value) + Math.floor(x / hw.chip.grid_width.value);
}

/** The PEs that must receive the events of population `popIndex` (every slice of every target). */
function destinationsOf(g: Graph, part: Partition, popIndex: number): number[] {
  const name = g.populations[popIndex].name;
  const pes = new Set<number>();
  for (const j of g.projections) {
    if (j.source !== name) continue;
    const pp = part.populations.find((x) => x.pop === j.target);
    if (pp) for (const sid of pp.slices) pes.add(part.slices[sid].pe);
  }
  return [...pes].sort((a, b) => a - b);
}

export function route(g: Graph, part: Partition, placement: Placement, hw: HardwareDescription): Routing {
  const width = placement.width;
  const perQpe = hw.chip.pes_per_qpe.value;
  const tables = new Map<number, RouteEntry[]>();
  const emitters: Emitter[] = [];
  const entryAt = (x: number, y: number, key: number): RouteEntry => {
    const id = y * width + x;
    let list = tables.get(id);
    if (!list) tables.set(id, (list = []));
    let e = list.find((v) => v.key === key);
    if (!e) list.push((e = { key, mask: SLICE_MASK, links: 0, cores: 0 }));
    return e;
  };
  // Routers exist only where a QPE is: the first `qpes` positions of each chip's snake, on chips that exist.
  const W = hw.chip.grid_width.value, Hq = hw.chip.grid_height.value, bw = hw.board.grid_width.value;
  const present = (x: number, y: number): boolean => {
    const cx = Math.floor(x / W), cy = Math.floor(y / Hq);
    const chip = cy % 2 === 0 ? cy * bw + cx : cy * bw + (bw - 1 - cx);
    if (chip >= placement.chips) return false;
    const qx = x % W, qy = y % Hq;
    const local = qy * W + (qy % 2 === 0 ? qx : W - 1 - qx);
    return local < hw.chip.qpes.value;
  };
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
  const addTree = (key: number, sx: number, sy: number, dests: number[]) => {
    entryAt(sx, sy, key);
    for (const pe of dests) {
      const loc = placement.pes[pe];
      const dirs = path(sx, sy, loc.x, loc.y, true) ?? path(sx, sy, loc.x, loc.y, false);
      if (!dirs) throw new NmcError(`no dimension-order route from router (${sx}, ${sy}) to PE ${pe} avoids the mesh's empty positions`);
      let x = sx, y = sy;
      for (const d of dirs) {
        entryAt(x, y, key).links |= 1 << d;
        x += DX[d];
        y += DY[d];
      }
      entryAt(x, y, key).cores |= 1 << loc.core;
    }
  };
  if (part.slices.length >= 0xffff) throw new NmcError(`${part.slices.length} slices: routing keys hold at most 65534`);
  for (const s of part.slices) {
    if (s.hi - s.lo > 0xffff) throw new NmcError(`slice ${s.id} of ${s.pop} has ${s.hi - s.lo} units: a routing key addresses at most 65535`);
  }
  const input = g.populations.findIndex((p) => p.name === g.inputs[0]);
  const hostKey = (part.slices.length << KEY_SHIFT) >>> 0;
  const inputDests = destinationsOf(g, part, input);
  addTree(hostKey, placement.host.x, placement.host.y, inputDests);
  emitters.push({ slice: -1, popIndex: input, key: hostKey, lo: 0, hi: g.populations[input].size, x: placement.host.x, y: placement.host.y, dests: new Int32Array(0), hops: 0, chipHops: 0, depth: 0 });
  for (const s of part.slices) {
    if (s.mirrors >= 0) continue;
    const dests = destinationsOf(g, part, s.popIndex);
    if (dests.length === 0) continue;
    const loc = placement.pes[s.pe];
    const key = (s.id << KEY_SHIFT) >>> 0;
    addTree(key, loc.x, loc.y, dests);
    emitters.push({ slice: s.id, popIndex: s.popIndex, key, lo: s.lo, hi: s.hi, x: loc.x, y: loc.y, dests: new Int32Array(0), hops: 0, chipHops: 0, depth: 0 });
  }
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
  const r: Routing = { emitters, tables, maxEntries, totalEntries };
  for (const e of emitters) resolve(r, e, placement, hw, perQpe, e.slice === -1 ? inputDests : destinationsOf(g, part, e.popIndex));
  return r;
}

/** Walks the tables from the emitter's router: where its packets are delivered, hops, chip crossings, depth. */
function resolve(r: Routing, e: Emitter, placement: Placement, hw: HardwareDescription, perQpe: number, intended: number[]): void {
  const width = placement.width;
  const peAt = new Map<number, number>();
  for (const loc of placement.pes) peAt.set((loc.y * width + loc.x) * perQpe + loc.core, loc.pe);
  const dests: number[] = [];
  let hops = 0, chipHops = 0, depth = 0;
  const queue: [number, number, number][] = [[e.x, e.y, 0]];
  const seen = new Set<number>();
  while (queue.length) {
    const [x, y, dist] = queue.shift()!;
    const id = y * width + x;
    if (seen.has(id)) throw new NmcError(`routing loop for key ${e.key} at router (${x}, ${y})`);
    seen.add(id);
    const entry = r.tables.get(id)?.find((v) => ((e.key & v.mask) >>> 0) === v.key);
    if (!entry) throw new NmcError(`packet with key ${e.key} dropped at router (${x}, ${y}): no matching entry`);
    hops++; // every router the packet passes through, the source's included
    depth = Math.max(depth, dist + 1);
    for (let c = 0; c < perQpe; c++) if (entry.cores & (1 << c)) dests.push(peAt.get(id * perQpe + c)!);
    for (let d = 0; d < 4; d++) {
      if (!(entry.links & (1 << d))) continue;
      const nx = x + DX[d], ny = y + DY[d];
      if (chipOf(x, y, hw, width) !== chipOf(nx, ny, hw, width)) chipHops++;
      queue.push([nx, ny, dist + 1]);
    }
  }
  dests.sort((a, b) => a - b);
  if (dests.length !== intended.length || dests.some((d, i) => d !== intended[i])) {
    throw new Error(`routing tables deliver key ${e.key} to PEs [${dests}] instead of [${intended}]`);
  }
  e.dests = Int32Array.from(dests);
  e.hops = hops;
  e.chipHops = chipHops;
  e.depth = depth;
}
