import type { Command } from "commander";
import { loadModel } from "../../compiler/frontend/index.js";
import { printGraph } from "../../ir/print.js";
import { graphSummary } from "../summary.js";
import { readoutOption, parseReadout } from "../options.js";

export function registerIr(program: Command): void {
  program
    .command("ir")
    .description("print the IR of a model: populations, projections, weights (text, stable enough to diff)")
    .argument("<model>", "model.json (TensorFlow.js LayersModel) with its weight shards beside it")
    .addOption(readoutOption())
    .option("--json", "print a JSON summary of the graph instead of the text form")
    .addHelpText("after", `
Examples:
  $ nmc ir examples/egru-smnist/model.json
  $ nmc ir model.json --readout mean --json`)
    .action((model: string, opts: { readout?: string; json?: boolean }) => {
      const { graph, warnings } = loadModel(model, { readout: parseReadout(opts.readout) });
      for (const w of warnings) process.stderr.write(`nmc: warning: ${w}\n`);
      if (opts.json) process.stdout.write(JSON.stringify(graphSummary(graph), null, 2) + "\n");
      else process.stdout.write(printGraph(graph));
    });
}
