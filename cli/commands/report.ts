import type { Command } from "commander";
import { NmcError } from "../../ir/errors.js";
import { readJsonFile, writeFileAtomic } from "../../ir/files.js";
import { TARGETS } from "../../targets/registry.js";

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("turn a saved spinnaker2 run (nmc run --json, or nmc demo's report.json) into a table or an HTML page")
    .argument("<run.json>", "the JSON that nmc run --json printed for a spinnaker2 bundle, or nmc-demo/report.json")
    .option("--html <file>", "write a self-contained HTML report with plots")
    .option("--json", "print the spinnaker2 report part as JSON (after writing --html, if given)")
    .addHelpText("after", `
Examples:
  $ nmc run s.nmb --input x.npy --json > run.json && nmc report run.json --html report.html
  $ nmc report nmc-demo/report.json`)
    .action(async (file: string, opts: { html?: string; json?: boolean }) => {
      const json = (readJsonFile(file, "the run report", "the JSON of nmc run --json (spinnaker2) or nmc demo") ?? {}) as Record<string, unknown>;
      // The first target that finds its report in the JSON reads it.
      const found = TARGETS.flatMap((t) => {
        const rep = t.savedReport?.find(json);
        return rep ? [{ saved: t.savedReport!, rep }] : [];
      })[0];
      if (!found) {
        throw new NmcError("this JSON is not a spinnaker2 run report", { file, expected: "fields eventMode, denseMode, perPe, tickSeconds (nmc run --json on a spinnaker2 bundle)" });
      }
      const { saved, rep } = found;
      const acc = typeof json.accuracy === "number" ? json.accuracy : undefined;
      if (opts.html) {
        const html = await saved.html(rep, {
          title: `nmc report: ${file}`, accuracy: acc,
          notes: ["The activity raster needs the run itself: nmc run <bundle> --html report.html draws it."],
        });
        writeFileAtomic(opts.html, new TextEncoder().encode(html), "HTML report");
        if (!opts.json) process.stdout.write(`wrote ${opts.html}\n`);
      }
      if (opts.json) process.stdout.write(JSON.stringify(rep, null, 2) + "\n");
      else if (!opts.html) process.stdout.write(saved.text(rep));
    });
}
