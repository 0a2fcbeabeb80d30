// Which event queues a simulator's PEs read and its emitters fill: the queue a population's PEs share for a
// source (shareQueues), and each emitter's destination queues (destQueues). Resolved once per build, from the
// routing tables, so that a wrong table delivers events to the wrong PEs exactly as the chip would.
import type { Emitter, Routing } from "../route.js";
import type { Pe } from "./pe.js";
import type { Queue } from "./queues.js";

/**
 * Where an emitter's packets land: the queue of its population on each destination PE (pes[pePos[id]] is the
 * PE with that id), resolved once; a queue shared by several destinations takes each packet once.
 */
export function destQueues(pes: readonly Pe[], pePos: readonly number[], e: Emitter): Queue[] {
  const qs: Queue[] = [];
  let last: Queue | null = null;
  for (const d of e.dests) {
    const q = pes[pePos[d]]?.queues.get(e.popIndex);
    // A shared queue is one population's: its destinations mostly come in a row (the check is a shortcut).
    if (q && !(q.shared && (q === last || qs.includes(q)))) qs.push(q);
    if (q) last = q;
  }
  return qs;
}

/**
 * The PEs of one population (byPop, graph order; PE ids below `ids`) receive the same event stream from a source
 * when every emitter of that source reaches all of them once or none of them (multicast to the whole population,
 * as route.ts builds it). They then share one queue for it: the very contents each PE's own queue would hold,
 * stored once, so that an event is written once and read once for all the population's slices
 * (accumulateSharedQueue). Any other routing keeps one queue per PE, filled packet by packet from the routing
 * tables' destinations.
 */
export function shareQueues(byPop: readonly (readonly Pe[])[], ids: number, routing: Routing): void {
  // The emitters of each source population, and a mark per PE id of the population in hand (no set or array
  // per emitter: a large mapping has thousands of emitter-destination pairs, and every build walks them).
  const bySrc = new Map<number, Emitter[]>();
  for (const e of routing.emitters) {
    const l = bySrc.get(e.popIndex);
    if (l) l.push(e);
    else bySrc.set(e.popIndex, [e]);
  }
  const mark = new Int32Array(ids).fill(-1), seen = new Int32Array(ids).fill(-1);
  let stamp = 0;
  for (let pi = 0; pi < byPop.length; pi++) {
    const all = byPop[pi];
    // A pipeline worker's shells (PEs another worker runs) have no queues: the live PEs share.
    const pes = all.filter((pe) => !pe.shell);
    if (pes.length < 2) continue;
    for (const pe of all) mark[pe.slice.pe] = pi;
    for (const src of pes[0].queues.keys()) {
      if (!pes.every((pe) => pe.queues.has(src))) continue;
      // Every emitter reaches all of the population's PEs once, or none of them.
      const whole = (bySrc.get(src) ?? []).every((e) => {
        let hit = 0, twice = false;
        stamp++;
        for (const d of e.dests) {
          if (mark[d] !== pi) continue;
          hit++;
          if (seen[d] === stamp) twice = true;
          seen[d] = stamp;
        }
        return hit === 0 || (hit === all.length && !twice);
      });
      if (!whole) continue;
      const q = pes[0].queues.get(src)!;
      q.shared = true;
      for (const pe of pes) {
        pe.queues.set(src, q);
        for (const lp of pe.incoming) if (lp.srcPop === src) lp.queue = q;
      }
    }
  }
}
