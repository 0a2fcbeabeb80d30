// `nmc hw`: the machine description a target lowers for (today spinnaker2's), each figure with its source.
import type { Command } from "commander";
import { NmcError } from "../../ir/errors.js";
import { TARGETS } from "../../targets/registry.js";

/** The first registered target that describes a machine. */
function hardwareTarget() {
  const t = TARGETS.find((x) => x.hardware !== undefined);
  if (!t) throw new NmcError("no registered target describes a machine");
  return t;
}
export function registerHw(program: Command): void {
  program
    .command("hw")
    .description("print the SpiNNaker 2 hardware description in use: structure, clocks, costs, each figure with its source")
    .option("--hw <file>", "a hardware description JSON to validate and print instead of the built-in one")
    .option("--json", "print the description as JSON (a starting point for your own --hw file)")
    .addHelpText("after", `
Every number carries a source: P = read in a primary source, S = quoted by a secondary one, derived = computed
from those (the source says how), nominal = an assumption. targets/spinnaker2/SOURCES.md has the citations.

Examples:
  $ nmc hw
  $ nmc hw --json > my-chip.json   # edit, then: nmc compile model.json --target spinnaker2 --hw my-chip.json -o m.nmb`)
    .action((opts: { hw?: string; json?: boolean }) => {
      const h = hardwareTarget().hardware!;
      const hw = h.load(opts.hw);
      process.stdout.write(opts.json ? JSON.stringify(h.json(hw), null, 2) + "\n" : h.text(hw));
    });
}
