// Saturation and clipping counts: how often a value of the quantized model lay beyond what its format holds.
// Every clamp of the golden kernels (kernels.ts) is a *site*; a kernel adds one to its population's counter of
// a site when that clamp changed a value (runtime/fixed's counted forms: only on the clamp's own branch), and
// once per call the number of values the site checked. Saturations are values clamped to an integer format
// (int32 sums, int16 outputs, the state's bits); clippings are lookup-table inputs beyond the table's range,
// whose index the index rule clamps to the first or last entry. docs/metrics.md lists the sites.
//
// Counters are one Float64Array per population: counts[site] values clamped, counts[SITES + site] values
// checked. Nothing is allocated per tick or per value, and no count feeds back into any result.

/** The sites, in counter order: key (JSON), what the values are (text), and which clamp it is. */
export const SATURATION_SITES = [
  { key: "colsum", what: "projection column sums", clamp: "a projection's exact column sum, rounding-shifted by weight_bits − 8, to int32 (before requantization)" },
  { key: "requant", what: "requantized sums", clamp: "a requantized term rq(x, m, s) to int32: each projection column into its port, and a DiagonalSSM's C·x sum" },
  { key: "port", what: "port sums", clamp: "a port's int32 sum once all projections (and the bias) have arrived" },
  { key: "cmul", what: "Λ̄·x parts", clamp: "DiagonalSSM: each part of the Q15 product Λ̄ ⊙ x to int32" },
  { key: "state", what: "state values", clamp: "EGRU: the cell value c to int16; DiagonalSSM: each part of the state x to state_bits" },
  { key: "read", what: "state reads", clamp: "DiagonalSSM with 32-bit states: the int16 view of each state part that C reads" },
  { key: "sum", what: "C·x sums", clamp: "DiagonalSSM: the exact sum Σ C·x, rounding-shifted by weight_bits − 8, to int32" },
  { key: "y", what: "output sums y", clamp: "DiagonalSSM: y = rq(C·x) + skip to int32" },
  { key: "operand", what: "operands", clamp: "Multiply: a′ and b′ to int16; LayerNorm: x′ to int16" },
  { key: "output", what: "outputs", clamp: "an output to int16 (Dense, DiagonalSSM, Multiply, LayerNorm)" },
  { key: "running", what: "running sums", clamp: "Readout (sum, mean): the running sum to int32" },
  { key: "lookup", what: "lookups", clamp: "a lookup-table input beyond the table's range: its index clamped to the first or last entry (a clipping)" },
] as const;

export type SaturationSite = (typeof SATURATION_SITES)[number]["key"];

/** Counter indices of the sites (counts[S_x] clamped, counts[SITES + S_x] checked). */
export const S_COLSUM = 0, S_REQUANT = 1, S_PORT = 2, S_CMUL = 3, S_STATE = 4, S_READ = 5, S_SUM = 6, S_Y = 7;
export const S_OPERAND = 8, S_OUTPUT = 9, S_RUNNING = 10, S_LOOKUP = 11;
/** Number of sites: the offset of the checked-values counters. */
export const SITES = SATURATION_SITES.length;

/** Fresh counters of one population. */
export function saturationCounters(): Float64Array {
  return new Float64Array(2 * SITES);
}

/**
 * Where work that is counted elsewhere counts (never read): a kernel called without counters, and the
 * copies of replicated work on the simulator's PEs (a DiagonalSSM's state and `u` port, counted on its first
 * slice only, as its synaptic operations are).
 */
export const NO_COUNTS = saturationCounters();

/** One site of one population: values clamped (`hits`) of the values checked there. */
export interface SiteCount {
  hits: number;
  values: number;
}

/** A population's counts by site key; a site that checked nothing is absent. */
export interface PopulationSaturation {
  kind: string;
  sites: Partial<Record<SaturationSite, SiteCount>>;
}

/** Counts of a run, by population name (every population but the Input, in graph order). */
export type SaturationCounts = Record<string, PopulationSaturation>;

/** The counts of a run as plain data (what results carry, merge and store in part files). */
export function saturationCounts(pops: readonly { name: string; kind: string }[], counters: readonly Float64Array[]): SaturationCounts {
  const out: SaturationCounts = {};
  pops.forEach((p, i) => {
    if (p.kind === "Input") return; // inputs: cli's input_saturation (inputSaturation)
    const c = counters[i], sites: PopulationSaturation["sites"] = {};
    SATURATION_SITES.forEach((s, k) => {
      if (c[k] !== 0 || c[SITES + k] !== 0) sites[s.key] = { hits: c[k], values: c[SITES + k] };
    });
    out[p.name] = { kind: p.kind, sites };
  });
  return out;
}

/** The counts of consecutive sample ranges summed (undefined if any part has none). */
export function mergeSaturation(parts: readonly (SaturationCounts | undefined)[]): SaturationCounts | undefined {
  if (parts.length === 0 || parts.some((p) => p === undefined)) return undefined;
  const out: SaturationCounts = {};
  for (const part of parts as SaturationCounts[]) {
    for (const [name, p] of Object.entries(part)) {
      const o = (out[name] ??= { kind: p.kind, sites: {} });
      if (o.kind !== p.kind) throw new Error(`saturation counts of ${name}: kind ${o.kind} in one part, ${p.kind} in another`);
      for (const [key, s] of Object.entries(p.sites) as [SaturationSite, SiteCount][]) {
        const t = (o.sites[key] ??= { hits: 0, values: 0 });
        t.hits += s.hits;
        t.values += s.values;
      }
    }
  }
  return out;
}

/** One population's line of the `saturation` JSON of nmc run and nmc verify. */
export interface SaturationEntry {
  population: string;
  kind: string;
  /** Values clamped to an integer format, of `values` checked (all sites but lookups). */
  saturated: number;
  /** Lookup-table inputs beyond the table's range, of `lookups`. */
  clipped: number;
  values: number;
  lookups: number;
  /** Per site: hits (saturated or clipped) and values checked. */
  sites: Partial<Record<SaturationSite, SiteCount>>;
}

/** Per population: the totals of saturations and clippings, and the sites. */
export function saturationEntries(c: SaturationCounts): SaturationEntry[] {
  return Object.entries(c).map(([population, p]) => {
    let saturated = 0, values = 0, clipped = 0, lookups = 0;
    for (const [key, s] of Object.entries(p.sites) as [SaturationSite, SiteCount][]) {
      if (key === "lookup") {
        clipped += s.hits;
        lookups += s.values;
      } else {
        saturated += s.hits;
        values += s.values;
      }
    }
    return { population, kind: p.kind, saturated, clipped, values, lookups, sites: p.sites };
  });
}

function percent(a: number, b: number): string {
  const p = b ? (100 * a) / b : 0;
  return `${p >= 0.001 || p === 0 ? p.toPrecision(3) : p.toExponential(2)}%`;
}

/**
 * One line per population with a saturation or a clipping, e.g. "population ssm1 (DiagonalSSM): 12 of 56000
 * state values saturated (0.0214%)"; none when every count is zero.
 */
export function saturationLines(entries: readonly SaturationEntry[]): string[] {
  const lines: string[] = [];
  for (const e of entries) {
    if (e.saturated === 0 && e.clipped === 0) continue;
    const parts: string[] = [];
    for (const s of SATURATION_SITES) {
      const c = e.sites[s.key];
      if (!c || c.hits === 0 || s.key === "lookup") continue;
      parts.push(`${c.hits} of ${c.values} ${s.what} saturated (${percent(c.hits, c.values)})`);
    }
    if (e.clipped) parts.push(`${e.clipped} of ${e.lookups} lookup-table inputs clipped to the table's range (${percent(e.clipped, e.lookups)})`);
    lines.push(`population ${e.population} (${e.kind}): ${parts.join(", ")}`);
  }
  return lines;
}
