// The golden target: the quantized IR alone, run by the golden integer engine (runtime/golden), which is
// the definition every other target is checked against. Lowering adds nothing to the bundle.
import type { Graph } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { GoldenEngine } from "../../runtime/golden/interpreter.js";
import { inPieces } from "../run/job.js";
import type { CountersResult } from "../run/result.js";
import type { LoadedBundle, Runner, Target } from "../target.js";

export function goldenRunner(g: Graph): Runner {
  return { name: "golden engine", run: (batch, observer) => new GoldenEngine(g, { observer }).run(batch) };
}

function goldenLoaded(g: Graph): LoadedBundle {
  const once = (b: SequenceBatch): CountersResult => {
    const r = new GoldenEngine(g).run(b);
    return {
      kind: "counters", engine: "golden", output: r.output, outputQ: r.outputQ, outFrac: r.outFrac, outputShape: r.outputShape, counters: r.counters,
      saturation: r.saturation,
      backend: `nmc golden interpreter (integer arithmetic: int${g.quant!.weightBits} weights, int32 accumulators, int16 states)`,
    };
  };
  return { runner: goldenRunner(g), execute: (batch, opts) => inPieces(batch, once, opts.onProgress) };
}

export const GOLDEN: Target = {
  name: "golden",
  displayName: "the golden engine",
  compiledNote: "the quantized reference",
  description: "golden: the quantized reference only (the golden integer engine runs it)",
  progressVerb: "running",
  compileOptions: [],
  runOptions: [],
  workers: true,
  lower: () => ({ sections: [] }),
  load: (_b, g) => goldenLoaded(g),
  reference: (g) => goldenLoaded(g),
};
