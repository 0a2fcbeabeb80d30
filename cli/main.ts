#!/usr/bin/env node
// The nmc command. Argument parsing is commander's; every failure goes through cli/exit.ts so the user
// sees one paragraph and a documented exit code, never a stack trace (NMC_DEBUG=1 shows one).
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerCompile } from "./commands/compile.js";
import { registerDemo } from "./commands/demo.js";
import { registerHw } from "./commands/hw.js";
import { registerInspect } from "./commands/inspect.js";
import { registerReport } from "./commands/report.js";
import { registerVerify } from "./commands/verify.js";
import { registerImport } from "./commands/import.js";
import { registerIr } from "./commands/ir.js";
import { registerMerge } from "./commands/merge.js";
import { registerRun } from "./commands/run.js";
import { registerGenerate } from "./commands/generate.js";
import { registerTune } from "./commands/tune.js";
import { EXIT_USAGE, reportFailure } from "./exit.js";

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    return pkg.version;
  } catch {
    return "unknown";
  }
}

export function buildProgram(): Command {
  const program = new Command("nmc")
    .description("nmc — neuromorphic model compiler: trained EGRU and diagonal SSM models to sparse event-driven hardware")
    .version(version(), "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", `
Exit codes: 0 ok, 1 verification failed, 2 usage or input error, 3 internal error (a bug in nmc).

Examples:
  $ nmc demo                                            the whole path on the bundled EGRU example
  $ nmc compile model.json -o m.nmb                     prune, calibrate, quantize: write a bundle
  $ nmc run m.nmb --input x.npy --labels y.npy          run it on the golden integer engine
  $ nmc compile model.json --target spinnaker2 -o s.nmb map it onto SpiNNaker 2 PEs
  $ nmc run s.nmb --input x.npy                         run it on the simulator: cycles, energy, sparsity gains
  $ nmc run s.nmb --input x.npy --workers auto          the same, one worker thread per core
  $ nmc run s.nmb --input x.npy --shard 2/4 --save p2.json the 2nd quarter of the samples, for nmc merge
  $ nmc merge p1.json p2.json p3.json p4.json           the report of the whole input from its 4 parts
  $ nmc verify s.nmb --input x.npy --against golden     bit-exact check against the golden engine
  $ nmc generate lm.nmb --prompt "The jury said" -n 40 text from a compiled language model, token by token
  $ nmc inspect m.nmb                                   what the bundle holds
  $ nmc run model.json --input x.npy --out y.npy        run the float model
  $ nmc ir model.json                                   print the IR
  $ nmc import evnn m.safetensors -o out/               an EvNN (PyTorch) checkpoint into out/model.json
  $ nmc tune model.json --input x.npy --labels y.npy -o sparse/  prune to 90% with masked fine-tuning`);
  registerDemo(program);
  registerCompile(program);
  registerRun(program);
  registerGenerate(program);
  registerMerge(program);
  registerVerify(program);
  registerInspect(program);
  registerReport(program);
  registerHw(program);
  registerIr(program);
  registerImport(program);
  registerTune(program);
  program.exitOverride();
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; commander has already printed its usage error message.
      return e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help" ? 0 : EXIT_USAGE;
    }
    return reportFailure(e);
  }
}

// A closed pipe (`nmc ir model.json | head`) is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
