// What each kind of sparsity saves, measured on the SpiNNaker 2 simulator: synaptic operations and modelled
// energy per inference with activity sparsity only (events skip, every weight stored), weight sparsity only
// (every unit sends every tick, only stored weights read) and both (event mode, what the chip does), each
// as a reduction dense ÷ mode, on the examples as committed, the examples pruned, and the synthetic EGRU;
// next to the ≈20× compute reduction Mukherji et al. (2023) report for EGRU language models.
import { argmaxRows, countEqual, type Graph, type SequenceBatch, sliceBatch, mapGraph, spinnaker2Report as report, simulate, type RunReport } from "../index.js";
import { fmt, mdTable, type Benchmark, type Goal } from "./lib.js";
import { compileExample, exampleModel } from "./models.js";
import { SYNTHETIC_NAME, SYNTHETIC_SPEC, syntheticBatch, syntheticModel } from "./throughput.js";

/** The pruning applied to the examples' pruned variants (the synthetic model's weight sparsity). */
export const PRUNE = SYNTHETIC_SPEC.weightSparsity;

/** Mukherji et al. 2023, "Activity sparsity complements weight sparsity for efficient RNN inference" (arXiv 2311.07625). */
export const MUKHERJI_REDUCTION = 20;

export interface SparsityRow {
  model: string;
  /** An EGRU model (the kind Mukherji et al. measured). */
  egru: boolean;
  pruned: boolean;
  samples: number;
  ticks: number;
  weightSparsity: number;
  activitySparsity: number;
  synopsPerInference: RunReport["synapticOpsPerInference"];
  /** Modelled energy per inference (J) in each mode. */
  energyJoules: { dense: number; activityOnly: number; weightOnly: number; combined: number };
  /** Reductions dense ÷ mode. */
  reduction: RunReport["sparsityGains"];
  /** Argmax accuracy of the simulator's outputs on these inputs (examples with labels), else null. */
  accuracy: number | null;
}

/** The fraction of sequences whose output argmax is the label (outputs [B, K]). */
function accuracy(output: Float64Array, shape: number[], labels: ArrayLike<number>): number | null {
  if (shape.length !== 2) return null;
  const [B, K] = shape;
  return countEqual(argmaxRows(output, B, K), labels, B) / B;
}

function measureRow(model: string, g: Graph, batch: SequenceBatch, egru: boolean, pruned: boolean, labels?: ArrayLike<number>): SparsityRow {
  const m = mapGraph(g);
  const run = simulate(g, m, batch);
  const r = report(g, m, run, "event");
  return {
    model, egru, pruned, samples: batch.batch, ticks: batch.ticks,
    weightSparsity: r.weightSparsityOverall, activitySparsity: r.activitySparsityOverall,
    synopsPerInference: r.synapticOpsPerInference,
    energyJoules: {
      dense: r.denseMode.energyJoules.total, activityOnly: r.activityOnlyMode.energyJoules.total,
      weightOnly: r.weightOnlyMode.energyJoules.total, combined: r.eventMode.energyJoules.total,
    },
    reduction: r.sparsityGains,
    accuracy: labels ? accuracy(run.output, run.outputShape, labels) : null,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const times = (x: number) => `${fmt(x)}×`;

export const sparsity: Benchmark = {
  name: "sparsity",
  title: "Activity sparsity, weight sparsity and both: synaptic operations and modelled energy",
  run(ctx) {
    const n = ctx.quick ? 100 : Infinity;
    const rows: SparsityRow[] = [];
    for (const name of ["egru-smnist", "ssm-events"] as const) {
      ctx.log(`${name}: compiling`);
      const ex = exampleModel(name);
      const batch = sliceBatch(ex.batch, 0, Math.min(ex.batch.batch, n));
      const egru = ex.quantized.populations.some((p) => p.kind === "EGRU");
      ctx.log(`${name}: simulating`);
      rows.push(measureRow(`${name} (as committed)`, ex.quantized, batch, egru, false, ex.labels));
      ctx.log(`${name}: pruning ${pct(PRUNE)} of the weights, compiling, simulating`);
      rows.push(measureRow(`${name}, ${pct(PRUNE)} of weights pruned`, compileExample(name, PRUNE).quantized, batch, egru, true, ex.labels));
    }
    ctx.log(`${SYNTHETIC_NAME}: building (or reusing), simulating`);
    const syn = syntheticModel();
    rows.push(measureRow(SYNTHETIC_NAME, syn.quantized, syntheticBatch(ctx.quick), true, true));

    const goals: Goal[] = rows.filter((r) => r.egru).map((r) => ({
      goal: `${r.model}: combined (activity × weight) synaptic-op reduction ≥ ${MUKHERJI_REDUCTION}×, the compute reduction Mukherji et al. 2023 report for EGRU language models`,
      measured: `${times(r.reduction.combined.synops)} synaptic ops (activity only ${times(r.reduction.activityOnly.synops)}, weights only ${times(r.reduction.weightOnly.synops)}); modelled energy ${times(r.reduction.combined.energy)}`,
      met: r.reduction.combined.synops >= MUKHERJI_REDUCTION,
      note: r.pruned && !r.model.startsWith("synthetic")
        ? `pruned after training, without fine-tuning: accuracy ${pct(r.accuracy ?? NaN)} on these ${r.samples} test sequences (unpruned: ${pct(rows.find((u) => !u.pruned && u.model.startsWith(r.model.split(",")[0]))?.accuracy ?? NaN)}); no accuracy-preserving pruning was attempted`
        : r.model.startsWith("synthetic") ? "random weights (no task): sparsity levels as set, not learned" : "weights as trained (not pruned)",
    }));
    const markdown = [
      `Each model runs once on the SpiNNaker 2 simulator (event execution; every figure below comes from that one run):`,
      `examples on their first ${rows[0].samples} committed test sequences, ${SYNTHETIC_NAME} on ${rows[rows.length - 1].samples} random sequences × ${rows[rows.length - 1].ticks} ticks.`,
      `Reductions are dense ÷ mode per inference. Synaptic operations are NeuroBench's counts (dense: rows × cols of every`,
      `projection every tick; activity only: non-zero source values × cols; weights only: stored entries; combined: stored`,
      `entries of non-zero source values). Modelled energy (default hardware description, default performance level) is`,
      `charged per PE per tick for each mode: activity only = events travel but each event reads its whole dense row and`,
      `every column is requantized; weights only = every unit sends every tick and every stored weight is read; combined =`,
      `event mode. Energy falls less than operations because tick overhead, unit updates and static power do not shrink.`,
      `Pruned variants: magnitude pruning of ${pct(PRUNE)} of every projection's weights before calibration (\`compileQuantized\``,
      `with \`weightSparsity\`), with no fine-tuning or retraining, so their accuracy cost is only indicated by the argmax accuracy`,
      `on the same test sequences (a small sample; not a measurement of what pruning with fine-tuning would cost). Activity`,
      `sparsity: fraction of unit-ticks without an event over every population but inputs and readouts.`,
      "",
      mdTable(
        ["model", "accuracy (these inputs)", "weight sparsity", "activity sparsity", "dense synaptic ops / inference", "ops: activity only", "ops: weights only", "ops: combined", "energy: activity only", "energy: weights only", "energy: combined"],
        [
          ...rows.map((r) => [
            r.model, r.accuracy === null ? "—" : pct(r.accuracy), pct(r.weightSparsity), pct(r.activitySparsity), fmt(r.synopsPerInference.dense),
            times(r.reduction.activityOnly.synops), times(r.reduction.weightOnly.synops), times(r.reduction.combined.synops),
            times(r.reduction.activityOnly.energy), times(r.reduction.weightOnly.energy), times(r.reduction.combined.energy),
          ]),
          ["Mukherji et al. 2023, EGRU language model on Penn Treebank (arXiv 2311.07625)", "perplexity < 60", "pruned", "learned", "—", "—", "—", `up to ${MUKHERJI_REDUCTION}× (MACs)`, "—", "—", "—"],
        ],
      ),
      "",
      `Mukherji et al. report up to ${MUKHERJI_REDUCTION}× fewer operations (theoretical MACs) from activity and weight sparsity together, with`,
      `perplexity below 60 on Penn Treebank; the goal lines compare each EGRU model's combined reduction to it.`,
    ].join("\n");
    return { figures: { rows, prune: PRUNE, mukherjiReduction: MUKHERJI_REDUCTION }, goals, markdown };
  },
};
