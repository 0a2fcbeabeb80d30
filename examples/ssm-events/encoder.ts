// Digit → event stream: a synthetic DVS-like ("dynamic vision sensor") moving-edge encoder.
//
// Picture a line sensor of 28 pixels (one per image column) under which the digit slides upwards at
// 1/K rows per tick, top row first. Every sensor pixel works like a DVS pixel: it remembers a reference
// level (initially the black background, 0) and, whenever the intensity it now sees has moved at least one
// contrast threshold θ away from that reference, it emits an event and moves the reference by the
// threshold crossings it reported. Brightening gives ON events, darkening OFF events, so a stroke crossing
// the sensor produces an ON edge followed by an OFF edge; uniform regions (the background, the inside of
// a thick stroke) produce nothing.
//
// Precisely, for column c and tick t = 0 … T−1 with T = 28·K:
//   s(t)   = (t + 1)/K − 1                          the image row under the sensor (fractional)
//   I_c(t) = linear interpolation of column c at row s(t), the rows above row 0 being black
//   n      = trunc((I_c(t) − ref_c) / θ)            signed number of threshold crossings (toward zero)
//   if n ≠ 0: event (t, c, n) and ref_c += n·θ
// so the event value is the signed crossing count (ON > 0, OFF < 0): several crossings within one tick
// are delivered as one graded event, as a DVS pixel with a refractory period of one tick would report
// them in a burst. Summing a column's events up to tick t gives I_c(t) quantized to θ, so no information
// beyond that quantization is lost. Intensity is used linearly (pixels are in [0, 1] with a black
// background, where the logarithm a real DVS applies is undefined).
//
// Defaults: K = 2 ticks per row (T = 56), θ = 0.25. The encoding is a pure function of the image: no
// randomness, no state between digits. The output is a dense [T, 28] tensor of event values, mostly
// zeros (see `eventDensity`), which is what `nmc run` and the tfjs model take as input.

export const SIDE = 28;

export interface EncoderOptions {
  /** Ticks per image row (the digit moves 1/K rows per tick). Default 2. */
  ticksPerRow?: number;
  /** Contrast threshold θ in intensity units (pixels are in [0, 1]). Default 0.25. */
  threshold?: number;
}

export interface Encoder {
  ticksPerRow: number;
  threshold: number;
  /** Number of ticks T = 28 · ticksPerRow. */
  ticks: number;
  /** Number of channels (sensor pixels, one per image column): 28. */
  channels: number;
}

export interface Event {
  /** Tick, 0 … T−1. */
  t: number;
  /** Channel = image column, 0 … 27. */
  channel: number;
  /** Signed number of threshold crossings: > 0 ON (brighter), < 0 OFF (darker). */
  value: number;
}

export function makeEncoder(opts: EncoderOptions = {}): Encoder {
  const ticksPerRow = opts.ticksPerRow ?? 2;
  const threshold = opts.threshold ?? 0.25;
  if (!Number.isInteger(ticksPerRow) || ticksPerRow < 1) throw new Error(`ticksPerRow must be a positive integer, got ${ticksPerRow}`);
  if (!(threshold > 0)) throw new Error(`threshold must be > 0, got ${threshold}`);
  return { ticksPerRow, threshold, ticks: SIDE * ticksPerRow, channels: SIDE };
}

/** One line describing the encoder, for results.json and logs. */
export function describeEncoder(e: Encoder): string {
  return (
    `DVS-like moving-edge encoder: the digit slides up under a 28-pixel line sensor at 1/${e.ticksPerRow} row per tick ` +
    `(T = ${e.ticks} ticks, 28 channels = image columns, linear interpolation between rows, black above the digit); ` +
    `each pixel emits a graded event (signed count of contrast-threshold crossings, threshold ${e.threshold}; ON > 0, OFF < 0) ` +
    `when its intensity has moved at least one threshold from its reference level, then moves the reference by that many thresholds`
  );
}

/**
 * Encodes one 28×28 image (row-major, pixels in [0, 1], read from `images` at `offset`) into `out` at
 * `outOffset` as a dense [T, 28] block of event values (zeros where there is no event). Returns the
 * number of events.
 */
export function encodeInto(
  e: Encoder,
  images: ArrayLike<number>,
  offset: number,
  out: Float32Array,
  outOffset: number,
): number {
  const K = e.ticksPerRow;
  const theta = e.threshold;
  let events = 0;
  for (let c = 0; c < SIDE; c++) {
    let ref = 0;
    for (let t = 0; t < e.ticks; t++) {
      const s = (t + 1) / K - 1; // row under the sensor, in [−1 + 1/K, 27]
      const r0 = Math.floor(s);
      const f = s - r0;
      const above = r0 < 0 ? 0 : images[offset + r0 * SIDE + c]!;
      const below = r0 + 1 > SIDE - 1 ? 0 : images[offset + (r0 + 1) * SIDE + c]!;
      // f = 0 means exactly on row r0 (the `below` term vanishes, so r0 + 1 out of range is harmless).
      const level = f === 0 ? above : (1 - f) * above + f * below;
      const n = Math.trunc((level - ref) / theta);
      const idx = outOffset + t * SIDE + c;
      if (n !== 0) {
        out[idx] = n;
        ref += n * theta;
        events++;
      } else {
        out[idx] = 0;
      }
    }
  }
  return events;
}

/** Encodes one image: a new Float32Array [T, 28]. */
export function encodeDigit(e: Encoder, images: ArrayLike<number>, offset = 0): Float32Array {
  const out = new Float32Array(e.ticks * SIDE);
  encodeInto(e, images, offset, out, 0);
  return out;
}

/** Encodes digits `start` … `start + count − 1` of a [N, 784] image array: Float32Array [count, T, 28]. */
export function encodeBatch(e: Encoder, images: ArrayLike<number>, start: number, count: number): Float32Array {
  const per = e.ticks * SIDE;
  const out = new Float32Array(count * per);
  for (let i = 0; i < count; i++) encodeInto(e, images, (start + i) * SIDE * SIDE, out, i * per);
  return out;
}

/** The events of one encoded digit ([T, 28] dense block), in time order then channel order. */
export function listEvents(e: Encoder, dense: ArrayLike<number>, offset = 0): Event[] {
  const events: Event[] = [];
  for (let t = 0; t < e.ticks; t++) {
    for (let c = 0; c < SIDE; c++) {
      const v = dense[offset + t * SIDE + c]!;
      if (v !== 0) events.push({ t, channel: c, value: v });
    }
  }
  return events;
}

/** Fraction of non-zero entries (events) in a dense event tensor. */
export function eventDensity(dense: ArrayLike<number>): number {
  let nz = 0;
  for (let i = 0; i < dense.length; i++) if (dense[i] !== 0) nz++;
  return dense.length === 0 ? 0 : nz / dense.length;
}

/** The events of one digit as CSV text (header `t,channel,value`). */
export function eventsCsv(events: readonly Event[]): string {
  return "t,channel,value\n" + events.map((ev) => `${ev.t},${ev.channel},${ev.value}`).join("\n") + "\n";
}
