// The benchmark harness: timing with warm-up and repeats (median and spread), the result record every
// benchmark returns, and the goal lines RESULTS.md prints as met / not met. Benchmarks live in
// bench/<name>.ts and export a `Benchmark`; bench/main.ts runs them and writes bench/results/<name>.json
// and bench/RESULTS.md.

export interface Timing {
  /** Seconds per repeat, in the order they ran. */
  samples: number[];
  median: number;
  min: number;
  max: number;
  /** (max − min) ÷ median: the relative spread over the repeats. */
  spread: number;
  warmup: number;
  repeats: number;
}

export interface MeasureOptions {
  warmup: number;
  repeats: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The Timing of samples already taken (seconds), with the warm-up and repeats they were taken under. */
export function timing(samples: number[], o: MeasureOptions): Timing {
  const med = median(samples);
  const min = Math.min(...samples), max = Math.max(...samples);
  return { samples, median: med, min, max, spread: med > 0 ? (max - min) / med : 0, warmup: o.warmup, repeats: o.repeats };
}

/**
 * The median over rounds of b's time ÷ a's time in the same round (the first min(n_a, n_b) rounds): a ratio
 * of two things timed round-robin, so that a drift of the machine's speed hits both sides of each ratio alike.
 */
export function pairedRatio(a: Timing, b: Timing): number {
  const n = Math.min(a.samples.length, b.samples.length);
  return median(Array.from({ length: n }, (_, i) => b.samples[i] / a.samples[i]));
}

/** Runs `fn` `warmup` times untimed, then `repeats` times timed (wall clock, seconds). */
export function measure(fn: () => void, o: MeasureOptions): Timing {
  for (let i = 0; i < o.warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < Math.max(1, o.repeats); i++) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) / 1000);
  }
  return timing(samples, o);
}

export async function measureAsync(fn: () => Promise<void>, o: MeasureOptions): Promise<Timing> {
  for (let i = 0; i < o.warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < Math.max(1, o.repeats); i++) {
    const t0 = performance.now();
    await fn();
    samples.push((performance.now() - t0) / 1000);
  }
  return timing(samples, o);
}

/** A published goal: what was asked, what was measured, and whether it was met (null: not measurable here). */
export interface Goal {
  goal: string;
  measured: string;
  met: boolean | null;
  /** Why it could not be measured, or what qualifies the figure. */
  note?: string;
}

export interface BenchContext {
  quick: boolean;
  /** Default warm-up and repeats for this mode (quick: 1 and 3; full: 2 and 7). */
  warmup: number;
  repeats: number;
  /** Progress to stderr (one line per step). */
  log(msg: string): void;
}

export interface BenchOutput {
  /** Machine-readable figures: whatever the benchmark measured, timings included. */
  figures: Record<string, unknown>;
  goals: Goal[];
  /** Markdown for RESULTS.md: tables of the figures, with a sentence on how they were measured. */
  markdown: string;
}

export interface Benchmark {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<BenchOutput> | BenchOutput;
}

/** A Markdown table. */
export function mdTable(head: string[], rows: (string | number)[][]): string {
  const line = (r: (string | number)[]) => `| ${r.map(String).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** A number with 3 significant digits in engineering style (1.23e8 → "1.23e8", 0.0123 → "0.0123"). */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) {
    const e = Math.floor(Math.log10(a));
    return `${(x / 10 ** e).toFixed(digits - 1)}e${e}`;
  }
  return Number(x.toPrecision(digits)).toString();
}

/** "median (min–max), ±spread%" for a timing, in seconds or milliseconds. */
export function fmtTiming(t: Timing): string {
  const ms = t.median < 1;
  const f = (s: number) => (ms ? `${fmt(s * 1000)} ms` : `${fmt(s)} s`);
  return `${f(t.median)} (${f(t.min)}–${f(t.max)}, n=${t.samples.length})`;
}
