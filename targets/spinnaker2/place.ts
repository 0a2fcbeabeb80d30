// Place: slices onto PEs, QPEs and chips. PEs are filled in graph order (a layer's slices next to each other,
// each layer next to the one it feeds), walking QPEs in a snake over each chip's mesh and chips in a snake
// over the board, so that the heavy feed-forward traffic between consecutive layers travels few hops.
// Router coordinates are global: chip (cx, cy) puts QPE (qx, qy) at (cx·W + qx, cy·H + qy).
import type { HardwareDescription } from "./chip.js";
import type { Partition } from "./partition.js";

export interface PeLocation {
  pe: number;
  chip: number;
  qpe: number;
  core: number; // 0 … pes_per_qpe − 1
  x: number; // global router coordinates
  y: number;
}

export interface Placement {
  pes: PeLocation[];
  chips: number;
  boards: number;
  /** Global mesh size in routers. */
  width: number;
  height: number;
  /** Where the host injects input events (chip 0's first QPE router). */
  host: { x: number; y: number };
}

function snake(i: number, w: number): [number, number] {
  const y = Math.floor(i / w);
  const x = y % 2 === 0 ? i % w : w - 1 - (i % w);
  return [x, y];
}

export function locate(hw: HardwareDescription, pe: number): PeLocation {
  const perChip = hw.chip.pes.value, perQpe = hw.chip.pes_per_qpe.value;
  const W = hw.chip.grid_width.value, H = hw.chip.grid_height.value, bw = hw.board.grid_width.value;
  const chip = Math.floor(pe / perChip);
  const local = pe % perChip;
  const qpe = Math.floor(local / perQpe);
  const [qx, qy] = snake(qpe, W);
  const [cx, cy] = snake(chip, bw);
  return { pe, chip, qpe, core: local % perQpe, x: cx * W + qx, y: cy * H + qy };
}

/** A PE's place on the machine as people read it: `chip3/qpe12/core1` (reports, inspect, core descriptors). */
export function locationName(hw: HardwareDescription, pe: number): string {
  const loc = locate(hw, pe);
  return `chip${loc.chip}/qpe${loc.qpe}/core${loc.core}`;
}

export function place(part: Partition, hw: HardwareDescription): Placement {
  let next = 0;
  const pes: PeLocation[] = [];
  for (const s of part.slices) {
    if (s.mirrors >= 0) continue;
    s.pe = next++;
    pes.push(locate(hw, s.pe));
  }
  // A Readout's slices sit on the PEs of its source's slices (same ranges).
  for (const s of part.slices) if (s.mirrors >= 0) s.pe = part.slices[s.mirrors].pe;
  return { pes, ...machineExtent(hw, next), host: { x: 0, y: 0 } };
}

/** The machine that `pes` PEs (numbered 0 … pes − 1) occupy: chips and boards, and the global router mesh. */
export function machineExtent(hw: HardwareDescription, pes: number): Pick<Placement, "chips" | "boards" | "width" | "height"> {
  const chips = Math.max(1, Math.ceil(pes / hw.chip.pes.value));
  const W = hw.chip.grid_width.value, H = hw.chip.grid_height.value, bw = hw.board.grid_width.value;
  return { chips, boards: Math.ceil(chips / hw.board.chips.value), width: Math.min(chips, bw) * W, height: Math.ceil(chips / bw) * H };
}
