import type { Command } from "commander";
import { loadHardware } from "../spinnaker2.js";
import { renderTable } from "../table.js";
import { usableSram } from "../../targets/spinnaker2/chip.js";

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
      const hw = loadHardware(opts.hw);
      if (opts.json) {
        process.stdout.write(JSON.stringify(hw, null, 2) + "\n");
        return;
      }
      const rows: (string | number)[][] = [];
      const walk = (prefix: string, o: unknown) => {
        if (o && typeof o === "object" && "value" in o && "source" in o) {
          const f = o as { value: number; unit: string; source: string };
          rows.push([prefix, f.value, f.unit, f.source]);
          return;
        }
        if (Array.isArray(o)) o.forEach((v, i) => walk(`${prefix}[${(v as { name?: string }).name ?? i}]`, v));
        else if (o && typeof o === "object") for (const [k, v] of Object.entries(o)) if (k !== "name") walk(prefix ? `${prefix}.${k}` : k, v);
      };
      walk("", { ...hw, default_level: undefined });
      process.stdout.write(`${hw.name}\ndefault level ${hw.default_level}; usable data SRAM per PE ${usableSram(hw)} bytes\n\n` +
        renderTable(["figure", "value", "unit", "source"], rows) + "\n");
    });
}
