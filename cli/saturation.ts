// Saturation and clipping counts in nmc run, merge and verify (docs/metrics.md, "Saturation and clipping"):
// the `saturation` JSON key (one entry per population) and, on stderr, one warning line per population whose
// values hit a limit, naming the engine that counted them. Nothing is printed when every count is zero.
import { saturationEntries, saturationLines, type SaturationCounts, type SaturationEntry } from "../runtime/golden/saturation.js";

/** The engines that count, as the JSON and the note name them. */
const COUNTERS: Record<string, string> = {
  golden: "the golden engine",
  spinnaker2: "the spinnaker2 simulator (the golden kernels on each PE; work every PE of a population repeats counted once)",
};

/** The JSON fields: the entries (null when no engine counted) and which engine counted them (or why none did). */
export interface SaturationJson {
  saturation: SaturationEntry[] | null;
  saturation_counted_by: string | null;
  saturation_note?: string;
}

/**
 * The report of a run's counts: `engine` is the engine that counted them (golden, spinnaker2), `why` what to
 * say when there are none (the engine does not count). Warns on stderr unless every count is zero.
 */
export function reportSaturation(counts: SaturationCounts | undefined, engine: string | null, why: string): SaturationJson {
  if (!counts || engine === null) return { saturation: null, saturation_counted_by: null, saturation_note: why };
  const entries = saturationEntries(counts);
  // A saturated value is clamped to its format's limit: a warning. A lookup-table input beyond the table's range
  // reads the table's end entry, which for the saturating functions nmc tabulates (sigmoid, tanh, ...) is near
  // the function's asymptote: a note, so that a clipping that is part of normal operation does not train users
  // to ignore warnings. A population with both gets one warning line naming both.
  const lines = entries.flatMap((e) => saturationLines([e]).map((l) => `nmc: ${e.saturated > 0 ? "warning" : "note"}: ${l}\n`));
  if (lines.length) {
    process.stderr.write(
      lines.join("") +
      `nmc: note: counted by ${COUNTERS[engine] ?? `the ${engine} engine`} on this input; a value beyond its format is clamped to the format's limit, ` +
      "an input beyond a lookup table's range reads the table's end entry (docs/metrics.md, \"Saturation and clipping\")\n",
    );
  }
  return { saturation: entries, saturation_counted_by: engine };
}

/** Why an engine has no counts (the JSON note). */
export function noCountsReason(engine: string, floatIr: boolean): string {
  if (floatIr) return `the ${engine} engine ran the float model: no fixed-point formats, nothing saturates`;
  return `the ${engine} engine does not count saturations (its program is generated without counters); ` +
    "nmc run --engine golden, or nmc verify --against golden (whose golden run the bit-exact target equals), counts them";
}
