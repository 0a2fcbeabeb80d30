// A PE's event queues and the sending of one tick's events into them. A queue holds the events of one
// source population, two ticks deep (by tick parity), so that a delay-1 projection reads the previous
// tick's events while this tick's arrive. No object is allocated per event or per tick.

/** Events from one source population, two ticks deep (by tick parity): entries [parity · cap, parity · cap + len[parity]). */
export class Queue {
  /** Empty until allocate(): most PEs' own queues are replaced by a shared one before a run (queue-wiring.ts shareQueues). */
  idx = NO_EVENTS;
  val = NO_EVENTS;
  readonly len = new Int32Array(2);
  /** Shared by every PE of a population (queue-wiring.ts shareQueues). */
  shared = false;
  constructor(readonly cap: number) {}

  /** Allocates the two ticks' room (once; the simulator calls it for every queue it keeps). */
  allocate(): void {
    if (this.idx.length === 2 * this.cap) return;
    this.idx = new Int32Array(2 * this.cap);
    this.val = new Int32Array(2 * this.cap);
  }
}
const NO_EVENTS = new Int32Array(0);

/** Scratch for sendEvents: one tick's events of one PE (or of the host). */
let evRow = new Int32Array(1024), evVal = new Int32Array(1024);

/** Writes the non-zero values out[0 … n) as events (row lo + i) into each queue at this parity; returns how many. */
export function sendEvents(queues: Queue[], out: Int32Array, n: number, lo: number, par: number): number {
  if (evRow.length < n) {
    evRow = new Int32Array(n);
    evVal = new Int32Array(n);
  }
  const rows = evRow, vals = evVal;
  let ev = 0;
  for (let i = 0; i < n; i++) {
    const v = out[i];
    if (v === 0) continue;
    rows[ev] = lo + i;
    vals[ev++] = v;
  }
  if (ev === 0) return 0;
  for (let d = 0; d < queues.length; d++) {
    const q = queues[d];
    const idx = q.idx, val = q.val;
    const k = par * q.cap + q.len[par];
    for (let e = 0; e < ev; e++) {
      idx[k + e] = rows[e];
      val[k + e] = vals[e];
    }
    q.len[par] += ev;
  }
  return ev;
}

/** Dense execution: writes every value out[0 … n) (zeros included) into each queue at this parity. */
export function sendAll(queues: Queue[], out: Int32Array, n: number, lo: number, par: number): void {
  for (let d = 0; d < queues.length; d++) {
    const q = queues[d];
    const idx = q.idx, val = q.val;
    let k = par * q.cap + q.len[par];
    for (let i = 0; i < n; i++, k++) {
      idx[k] = lo + i;
      val[k] = out[i];
    }
    q.len[par] += n;
  }
}
