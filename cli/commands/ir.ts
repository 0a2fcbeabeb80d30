import type { Command } from "commander";
import { Option } from "commander";
import { loadModel } from "../../compiler/frontend/index.js";
import { FLOAT_IR_SECTION, bundleGraph, IR_SECTION, readBundle } from "../../ir/bundle.js";
import { NmcError } from "../../ir/errors.js";
import { printGraph } from "../../ir/print.js";
import { isBundleFile } from "../../targets/run/job.js";
import { graphSummary } from "../summary.js";
import { readoutOption, parseReadout } from "../options.js";

export function registerIr(program: Command): void {
  program
    .command("ir")
    .description("print the IR of a model or a bundle: populations, projections, weights (text, stable enough to diff)")
    .argument("<model>", "model.json (TensorFlow.js LayersModel) with its weight shards beside it, or a bundle (.nmb)")
    .addOption(readoutOption())
    .addOption(new Option("--section <which>", "a bundle's quantized IR (what its target runs) or the float IR it approximates").choices(["quantized", "float"]).default("quantized"))
    .option("--json", "print a JSON summary of the graph instead of the text form")
    .addHelpText("after", `
Examples:
  $ nmc ir examples/egru-smnist/model.json
  $ nmc ir model.json --readout mean --json
  $ nmc ir m.nmb                    # the quantized IR a bundle carries (every integer tensor and format)
  $ nmc ir m.nmb --section float    # the float IR it was quantized from`)
    .action((model: string, opts: { readout?: string; json?: boolean; section: "quantized" | "float" }) => {
      let graph;
      if (isBundleFile(model)) {
        if (opts.readout !== undefined) {
          throw new NmcError("--readout applies to model.json; a bundle's readout was fixed when it was compiled", { file: model });
        }
        graph = bundleGraph(readBundle(model), model, opts.section === "float" ? FLOAT_IR_SECTION : IR_SECTION);
      } else {
        if (opts.section !== "quantized") throw new NmcError("--section applies to bundles; a model.json holds the float IR only", { file: model });
        const loaded = loadModel(model, { readout: parseReadout(opts.readout) });
        for (const w of loaded.warnings) process.stderr.write(`nmc: warning: ${w}\n`);
        graph = loaded.graph;
      }
      if (opts.json) process.stdout.write(JSON.stringify(graphSummary(graph), null, 2) + "\n");
      else process.stdout.write(printGraph(graph));
    });
}
