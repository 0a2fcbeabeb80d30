// The golden target: the quantized IR alone, run by the golden integer engine (runtime/golden), which is
// the definition every other target is checked against. Lowering adds nothing to the bundle.
import type { Graph } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { GoldenEngine, runGolden } from "../../runtime/golden/interpreter.js";
import { inPieces } from "../run/job.js";
import type { CountersResult } from "../run/result.js";
import type { LoadedBundle, Runner, StepSession, Target } from "../target.js";

/** Values per tick of the graph's input: 1 (a token id) for an Embedding model, else the input's width. */
export function inputChannels(g: Graph): number {
  const input = g.populations.find((p) => p.name === g.inputs[0]);
  return !input || (input.kind === "Input" && input.encoding === "tokens") ? 1 : input.size;
}

export function goldenRunner(g: Graph): Runner {
  return { name: "golden engine", run: (batch, observer) => runGolden(g, batch, { observer }) };
}

function goldenLoaded(g: Graph): LoadedBundle {
  const once = (b: SequenceBatch): CountersResult => {
    const r = runGolden(g, b);
    return {
      kind: "counters", engine: "golden", output: r.output, outputQ: r.outputQ, outFrac: r.outFrac, outputShape: r.outputShape, counters: r.counters,
      saturation: r.saturation,
      backend: `nmc golden interpreter (integer arithmetic: int${g.quant!.weightBits} weights, int32 accumulators, int16 states)`,
    };
  };
  const session = (ticks: number): StepSession => {
    const e = new GoldenEngine(g);
    const input = new Int32Array(ticks * inputChannels(g));
    const C = input.length / Math.max(1, ticks);
    let done = 0;
    e.begin();
    return {
      input, outFrac: e.outFrac,
      step: (t) => {
        if (t !== done) throw new Error(`internal: golden session stepped tick ${t} after ${done} ticks`);
        done++;
        return e.tick(input, t * C);
      },
      finish: () => {
        e.end();
        const r: CountersResult = { kind: "counters", engine: "golden", output: new Float64Array(0), outputShape: [1, done, 0], counters: e.counters, saturation: e.saturation(), backend: "nmc golden interpreter, stepped tick by tick" };
        e.dispose();
        return r;
      },
    };
  };
  return { runner: goldenRunner(g), execute: (batch, opts) => inPieces(batch, once, opts.onProgress), session };
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
