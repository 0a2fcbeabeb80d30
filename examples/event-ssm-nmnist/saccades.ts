// Digit → event stream the way N-MNIST was recorded: a simulated event camera making three saccades over a
// still digit.
//
// N-MNIST (Orchard, Jayawant, Cohen, Thakor, "Converting Static Image Datasets to Spiking Neuromorphic Datasets
// Using Saccades", Frontiers in Neuroscience 9:437, 2015) was recorded by an ATIS event camera on a pan-tilt
// mount looking at each MNIST digit on a screen. The camera made three saccades of about 100 ms each along
// the sides of a triangle, ending where it started, so the digit moved over a 34 × 34 pixel patch of the
// sensor (28 pixels of digit plus the motion), and every pixel reported an event with a microsecond time
// stamp whenever its log intensity changed by a contrast threshold (ON brighter, OFF darker).
//
// This file simulates that recording (no code or data of the paper is used; the numbers are our choices):
// - The digit (28 × 28, intensities in [0, 1]) lies in a field of F = 28 + 2·margin image pixels. The sensor
//   sees the field moved by (dx(t), dy(t)) image pixels, interpolated bilinearly (black outside the digit).
//   `bin` × `bin` image pixels make one sensor pixel (the mean of the block), so the sensor has
//   S = F / bin pixels per side. Box filtering and bilinear shifting are both convolutions, so they commute:
//   a sensor pixel is a bilinear sample of the box-filtered field, which is what is computed.
// - The motion: three straight saccades between the triangle's vertices `path` (image pixels), each
//   `saccadeUs` long at constant speed, starting and ending at (0, 0).
// - Every sensor pixel is a DVS/ATIS-like change detector on L = log(I + logOffset): it starts adapted to
//   the still image (reference = L at t = 0: a still scene gives no events). The intensity is sampled every
//   `sampleUs`; between two samples L is taken linear in time. Whenever L has moved one threshold θ away
//   from the reference, the pixel emits an event at the interpolated crossing time (rounded to whole µs),
//   ON (polarity 1) up or OFF (polarity 0) down, and moves its reference by θ. After an event the pixel is
//   blind for `refractoryUs`: a crossing in that time is reported when the refractory time ends if L is still
//   beyond the threshold then (at a sample time), as a real pixel reports a change only once it is ready.
// - The events of all pixels are merged in time order (ties: by pixel, then polarity). The generator is a pure
//   function of the image and the options: no randomness.
//
// Tokens (x, y, polarity) → one id p·S² + y·S + x (event-ssm takes one integer token per event; its 2-D
// collate in dataloading.py event_stream_collate_fn forms x·y + S²·p, which is not one-to-one, so we do not
// copy that formula). Time steps as event-ssm's collate makes them: event i is paired with
// t[i+1] − t[i] in ms (µs / 1000) and the last event is dropped (`toSequence`).

export const SIDE = 28;

export interface SaccadeOptions {
  /** Image pixels of black margin around the 28 × 28 digit (F = 28 + 2·margin). */
  margin: number;
  /** Image pixels per sensor pixel per side (F must be a multiple). */
  bin: number;
  /** Triangle vertices (image pixels) visited after (0, 0); the path ends at (0, 0). */
  path: [number, number][];
  saccadeUs: number;
  sampleUs: number;
  /** Contrast threshold θ on log(I + logOffset). */
  threshold: number;
  logOffset: number;
  refractoryUs: number;
}

export const DEFAULT_SACCADES: SaccadeOptions = {
  margin: 3,
  bin: 2,
  path: [[3, 6], [6, 0]],
  saccadeUs: 100_000,
  sampleUs: 1_000,
  threshold: 0.8,
  logOffset: 0.25,
  refractoryUs: 5_000,
};

export interface Sensor extends SaccadeOptions {
  /** Field side in image pixels. */
  field: number;
  /** Sensor pixels per side. */
  size: number;
  /** Token vocabulary 2·S². */
  vocabulary: number;
  /** Recording length, µs. */
  durationUs: number;
}

export function makeSensor(opts: Partial<SaccadeOptions> = {}): Sensor {
  const o = { ...DEFAULT_SACCADES, ...opts };
  const field = SIDE + 2 * o.margin;
  if (!Number.isInteger(o.margin) || o.margin < 0) throw new Error(`margin must be an integer ≥ 0, got ${o.margin}`);
  if (!Number.isInteger(o.bin) || o.bin < 1 || field % o.bin !== 0) throw new Error(`bin must divide the field side ${field}, got ${o.bin}`);
  if (!(o.threshold > 0) || !(o.logOffset > 0)) throw new Error("threshold and logOffset must be > 0");
  if (!(o.sampleUs > 0) || o.saccadeUs % o.sampleUs !== 0) throw new Error("sampleUs must divide saccadeUs");
  const size = field / o.bin;
  return { ...o, field, size, vocabulary: 2 * size * size, durationUs: (o.path.length + 1) * o.saccadeUs };
}

export function describeSensor(s: Sensor): string {
  const v = [[0, 0], ...s.path, [0, 0]].map(([x, y]) => `(${x},${y})`).join("→");
  return `${s.size}×${s.size} sensor (${s.bin}×${s.bin} image px per pixel, field ${s.field} px), ${s.path.length + 1} saccades ${v} image px, ` +
    `${s.saccadeUs / 1000} ms each, log(I+${s.logOffset}) threshold ${s.threshold}, refractory ${s.refractoryUs / 1000} ms, sampled every ${s.sampleUs / 1000} ms`;
}

/** Events of one recording, in time order: t (µs), x, y, polarity (1 ON, 0 OFF). */
export interface Recording {
  t: Float64Array;
  x: Int32Array;
  y: Int32Array;
  p: Int32Array;
  count: number;
}

/** The sensor offset (image pixels) at time t (µs). */
export function offsetAt(s: Sensor, tUs: number): [number, number] {
  const verts: [number, number][] = [[0, 0], ...s.path, [0, 0]];
  const k = Math.min(verts.length - 2, Math.floor(tUs / s.saccadeUs));
  const f = Math.min(1, (tUs - k * s.saccadeUs) / s.saccadeUs);
  const [ax, ay] = verts[k]!, [bx, by] = verts[k + 1]!;
  return [ax + f * (bx - ax), ay + f * (by - ay)];
}

/** The box-filtered field: B[r][c] = mean of field[r..r+bin)[c..c+bin), for r, c in 0 … F − 1 (zeros beyond). */
function boxField(s: Sensor, images: Float32Array, index: number): Float64Array {
  const F = s.field, b = s.bin, m = s.margin;
  const field = new Float64Array(F * F);
  const base = index * SIDE * SIDE;
  for (let r = 0; r < SIDE; r++) for (let c = 0; c < SIDE; c++) field[(r + m) * F + c + m] = images[base + r * SIDE + c]!;
  const out = new Float64Array(F * F);
  for (let r = 0; r < F; r++) {
    for (let c = 0; c < F; c++) {
      let sum = 0;
      for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) {
        const rr = r + i, cc = c + j;
        if (rr < F && cc < F) sum += field[rr * F + cc]!;
      }
      out[r * F + c] = sum / (b * b);
    }
  }
  return out;
}

/** Bilinear sample of the F × F array at (row, col), zero outside. */
function bilinear(a: Float64Array, F: number, row: number, col: number): number {
  const r0 = Math.floor(row), c0 = Math.floor(col);
  const fr = row - r0, fc = col - c0;
  const at = (r: number, c: number) => (r >= 0 && r < F && c >= 0 && c < F ? a[r * F + c]! : 0);
  return (1 - fr) * ((1 - fc) * at(r0, c0) + fc * at(r0, c0 + 1)) + fr * ((1 - fc) * at(r0 + 1, c0) + fc * at(r0 + 1, c0 + 1));
}

/** The recording of digit `index` of `images` ([N, 784], pixels in [0, 1]). */
export function record(s: Sensor, images: Float32Array, index: number): Recording {
  const S = s.size, F = s.field;
  const box = boxField(s, images, index);
  const nPix = S * S;
  const level = (px: number, t: number) => {
    const [dx, dy] = offsetAt(s, t);
    // The sensor pixel (x, y) covers field pixels [y·bin, (y+1)·bin) × [x·bin, …) of the moved field.
    const y = Math.floor(px / S), x = px % S;
    return Math.log(bilinear(box, F, y * s.bin - dy, x * s.bin - dx) + s.logOffset);
  };
  const ref = new Float64Array(nPix);
  const prev = new Float64Array(nPix);
  const ready = new Float64Array(nPix); // the time each pixel is ready again
  for (let px = 0; px < nPix; px++) ref[px] = prev[px] = level(px, 0);
  const ev: { t: number; px: number; p: number }[] = [];
  const steps = s.durationUs / s.sampleUs;
  for (let k = 1; k <= steps; k++) {
    const t0 = (k - 1) * s.sampleUs, t1 = k * s.sampleUs;
    for (let px = 0; px < nPix; px++) {
      const a = prev[px]!, b = level(px, t1);
      prev[px] = b;
      // Every crossing of ref ± θ between the samples, in order.
      for (;;) {
        const up = b - ref[px]! >= s.threshold, down = ref[px]! - b >= s.threshold;
        if (!up && !down) break;
        const target = up ? ref[px]! + s.threshold : ref[px]! - s.threshold;
        // Where L (linear from a to b over the step) reaches the target; at t0 when it was already beyond.
        const f = b === a ? 0 : Math.min(1, Math.max(0, (target - a) / (b - a)));
        let t = t0 + f * (t1 - t0);
        if (t < ready[px]!) {
          if (ready[px]! > t1) break; // still blind at the end of this step: look again at the next sample
          t = ready[px]!;
        }
        t = Math.round(t);
        ev.push({ t, px, p: up ? 1 : 0 });
        ref[px] = target;
        ready[px] = t + s.refractoryUs;
      }
    }
  }
  ev.sort((u, v) => u.t - v.t || u.px - v.px || u.p - v.p);
  const n = ev.length;
  const rec: Recording = { t: new Float64Array(n), x: new Int32Array(n), y: new Int32Array(n), p: new Int32Array(n), count: n };
  ev.forEach((e, i) => {
    rec.t[i] = e.t;
    rec.x[i] = e.px % S;
    rec.y[i] = Math.floor(e.px / S);
    rec.p[i] = e.p;
  });
  return rec;
}

/** The token of (x, y, polarity): p·S² + y·S + x. */
export const tokenOf = (s: Sensor, x: number, y: number, p: number) => p * s.size * s.size + y * s.size + x;

/**
 * A recording as one event-ssm sequence: tokens of events 0 … N−2 and their time steps t[i+1] − t[i] in ms
 * (event-ssm's event_stream_collate_fn). `shift` moves every event by (dx, dy) sensor pixels and drops those
 * that leave the sensor (training augmentation).
 */
export function toSequence(s: Sensor, r: Recording, shift: [number, number] = [0, 0]): { tokens: Int32Array; dt: Float32Array } {
  const keep: number[] = [];
  for (let i = 0; i < r.count; i++) {
    const x = r.x[i]! + shift[0], y = r.y[i]! + shift[1];
    if (x >= 0 && x < s.size && y >= 0 && y < s.size) keep.push(i);
  }
  const L = Math.max(0, keep.length - 1);
  const tokens = new Int32Array(L), dt = new Float32Array(L);
  for (let k = 0; k < L; k++) {
    const i = keep[k]!;
    tokens[k] = tokenOf(s, r.x[i]! + shift[0], r.y[i]! + shift[1], r.p[i]!);
    dt[k] = (r.t[keep[k + 1]!]! - r.t[i]!) / 1000;
  }
  return { tokens, dt };
}

/** One recording as the events CSV nmc reads (t in µs, channel = token). */
export function eventsCsv(s: Sensor, r: Recording): string {
  const lines = ["t,channel"];
  for (let i = 0; i < r.count; i++) lines.push(`${r.t[i]},${tokenOf(s, r.x[i]!, r.y[i]!, r.p[i]!)}`);
  return lines.join("\n") + "\n";
}
