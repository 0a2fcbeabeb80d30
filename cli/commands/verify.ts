import type { Command } from "commander";
import { Option } from "commander";
import { FLOAT_IR_SECTION, bundleGraph, readBundle } from "../../ir/bundle.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import { FloatEngine } from "../../runtime/float/interpreter.js";
import { type SequenceBatch } from "../../runtime/batch.js";
import { dtOption, INPUT_FORMATS_HELP, readBatch, ticksOption, warnInputSaturation } from "../input.js";
import { argmaxRows, countEqual } from "../../runtime/metrics.js";
import { VerificationFailed } from "../exit.js";
import { numberOption } from "../options.js";
import { compareFloatGolden } from "../../compiler/compare.js";
import { pct, renderTable, sig } from "../../runtime/table.js";
import type { Bundle } from "../../ir/bundle.js";
import { findTarget, getTarget, TARGETS } from "../../targets/registry.js";
import type { Runner } from "../../targets/target.js";
import type { SaturationCounts } from "../../runtime/golden/saturation.js";
import { noCountsReason, reportSaturation } from "../saturation.js";

export interface Mismatch {
  sample: number;
  tick: number;
  population: string;
  index: number;
  target: number;
  reference: number;
}

/**
 * Runs the reference on the whole batch recording every population's output every tick, then the target,
 * comparing each value as it is produced; then the final outputs. Stops at the first difference.
 */
export function compareRunners(g: Graph, target: Runner, reference: Runner, batch: SequenceBatch) {
  const T = batch.ticks;
  const rec = g.populations.map((p) => new Int32Array(batch.batch * T * p.size));
  const ref = reference.run(batch, (pi, out, b, t) => rec[pi].set(out, (b * T + t) * out.length));
  let compared = 0, events = 0;
  let mismatch: Mismatch | null = null;
  const got = target.run(batch, (pi, out, b, t) => {
    if (mismatch) return;
    const r = rec[pi], off = (b * T + t) * out.length;
    for (let i = 0; i < out.length; i++) {
      compared++;
      if (out[i] !== 0) events++;
      if (out[i] !== r[off + i]) {
        mismatch = { sample: b, tick: t, population: g.populations[pi].name, index: i, target: out[i], reference: r[off + i] };
        return;
      }
    }
  });
  if (!mismatch) {
    const K = ref.outputShape[ref.outputShape.length - 1];
    for (let i = 0; i < ref.outputQ.length; i++) {
      if (ref.outputQ[i] !== got.outputQ[i]) {
        const perSample = ref.outputQ.length / batch.batch;
        mismatch = { sample: Math.floor(i / perSample), tick: T - 1, population: g.outputs[0], index: i % K, target: got.outputQ[i], reference: ref.outputQ[i] };
        break;
      }
    }
  }
  return { mismatch: mismatch as Mismatch | null, compared, events, targetSaturation: got.saturation, referenceSaturation: ref.saturation };
}

/** The runner of a bundle on its own target (a bundle of a target this nmc does not know: refused). */
export function bundleRunner(file: string, g: Graph, b: Bundle): Runner {
  const t = findTarget(b.manifest.target);
  if (!t) throw new NmcError(`this nmc cannot run target ${b.manifest.target}`, { file, expected: TARGETS.map((x) => x.name).join(" | ") });
  return t.load(b, g, file).runner;
}

/** The targets that can be a reference for any bundle (`--against NAME`). */
const REFERENCES = TARGETS.filter((t) => t.reference !== undefined);

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("run a bundle on its target and on a reference; compare every output and every event")
    .argument("<bundle>", "a bundle written by nmc compile (.nmb)")
    .requiredOption("--input <file>", "input, as for nmc run: " + INPUT_FORMATS_HELP)
    .addOption(dtOption())
    .addOption(ticksOption())
    .addOption(new Option("--against <reference>", `${REFERENCES.map((t) => t.name).join(", ")}: bit for bit against that target, every population every tick (${REFERENCES.map((t) => t.description).join("; ")}); float: the float model the bundle was quantized from (error statistics and argmax agreement)`).choices([...REFERENCES.map((t) => t.name), "float"]).default("golden"))
    .option("--min-agreement <f>", "--against float: the argmax agreement below which verification fails", "0.98")
    .option("--json", "print the verdict as JSON")
    .addHelpText("after", `
Exit status: 0 when the target matches (bit-exact, or float agreement ≥ --min-agreement), 1 when it does not,
2 for bad input.

Examples:
  $ nmc verify s.nmb --input x.npy --against golden
  $ nmc verify s.nmb --input x.npy --against cuda
  $ nmc verify s.nmb --input x.npy --against float --json
  $ nmc verify s.nmb --input events.csv --dt 0.001 --ticks 56`)
    .action((file: string, opts: { input: string; against: string; minAgreement: string; json?: boolean; dt?: string; ticks?: string }) => {
      const minAgreement = numberOption("--min-agreement", opts.minAgreement, 0, 1)!;
      const b = readBundle(file);
      const g = bundleGraph(b, file);
      const target = bundleRunner(file, g, b);
      const { batch } = readBatch(g, opts.input, opts);
      warnInputSaturation(g, batch, opts.input);
      // Saturation counts (docs/metrics.md): the target's own when it counts (golden, spinnaker2), else the
      // golden engine's from the run this command makes anyway; the report names which.
      const saturation = (own: SaturationCounts | undefined, other: SaturationCounts | undefined, otherEngine: string | null) =>
        own ? reportSaturation(own, b.manifest.target, "")
          : reportSaturation(other, other ? otherEngine : null, noCountsReason(b.manifest.target, false));
      const out = (v: object, ok: boolean, text: string) => {
        if (opts.json) process.stdout.write(JSON.stringify({ bundle: file, target: target.name, against: opts.against, ok, ...v }, null, 2) + "\n");
        else process.stdout.write(text + "\n");
        if (!ok) throw new VerificationFailed(opts.against === "float" ? "the target's agreement with the float model is below --min-agreement" : `the target differs from the ${opts.against} reference`);
      };
      if (opts.against !== "float") {
        const reference = getTarget(opts.against).reference!(g, b).runner;
        const r = compareRunners(g, target, reference, batch);
        const m = r.mismatch;
        const sat = saturation(r.targetSaturation, r.referenceSaturation, opts.against);
        out({ reference: reference.name, samples: batch.batch, ticks: batch.ticks, values_compared: r.compared, events_compared: r.events, mismatch: m, ...sat }, m === null,
          m === null
            ? `bit-exact: ${target.name} equals the ${reference.name} on ${batch.batch} sequences × ${batch.ticks} ticks ` +
              `(${r.compared} population outputs compared, ${r.events} of them events, and every final output)`
            : `MISMATCH: sample ${m.sample}, tick ${m.tick}, population ${m.population}, index ${m.index}: ${target.name} gives ${m.target}, ${reference.name} ${m.reference}`);
        return;
      }
      const fg = bundleGraph(b, file, FLOAT_IR_SECTION);
      const f = new FloatEngine(fg).run(batch);
      const q = target.run(batch, () => {});
      let maxAbs = 0, sq = 0, maxRef = 0;
      for (let i = 0; i < f.output.length; i++) {
        const d = Math.abs(f.output[i] - q.output[i]);
        maxAbs = Math.max(maxAbs, d);
        sq += d * d;
        maxRef = Math.max(maxRef, Math.abs(f.output[i]));
      }
      const K = f.outputShape[f.outputShape.length - 1], rows = f.output.length / K;
      const agreement = rows ? countEqual(argmaxRows(f.output, rows, K), argmaxRows(q.output, rows, K), rows) / rows : 1;
      const rms = f.output.length ? Math.sqrt(sq / f.output.length) : 0;
      // Where the error comes from: every population's outputs, every tick, float vs the golden engine (which
      // the target equals bit for bit: --against golden checks that).
      let golden: SaturationCounts | undefined;
      const perPop = compareFloatGolden(fg, g, batch, undefined, { saturation: (c) => (golden = c) }).populations.map((p) => ({
        name: p.name, kind: p.kind, max_abs_error: p.maxAbs, rms_error: p.rms, max_abs_float: p.maxRef, event_agreement: p.eventAgreement,
      }));
      const sat = saturation(q.saturation, golden, "golden");
      out({ max_abs_error: maxAbs, rms_error: rms, max_abs_float: maxRef, argmax_agreement: agreement, min_agreement: minAgreement, populations: perPop, ...sat }, agreement >= minAgreement,
        `${target.name} vs the float model on ${batch.batch} sequences: max |error| ${maxAbs.toPrecision(4)} (outputs up to ${maxRef.toPrecision(4)}), ` +
        `RMS ${rms.toPrecision(4)}, argmax agreement ${(100 * agreement).toFixed(2)}% (required ≥ ${(100 * minAgreement).toFixed(2)}%)\n` +
        "per population (float vs the golden engine, every tick; the target equals golden bit for bit):\n" +
        renderTable(["population", "kind", "max |error|", "RMS", "max |float|", "zero/event agree"],
          perPop.map((p) => [p.name, p.kind, sig(p.max_abs_error), sig(p.rms_error), sig(p.max_abs_float), pct(p.event_agreement, 2)])));
    });
}
