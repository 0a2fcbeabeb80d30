// nmc generate: autoregressive text generation from a compiled language model (targets/run/generate.ts), with
// the per-token figures of the run: activity sparsity on every engine, and on a target that prices time and
// energy (spinnaker2) the PEs, per-token latency and energy with its split, event-driven against dense.
import type { Command } from "commander";
import { Option } from "commander";
import { NmcError } from "../../ir/errors.js";
import { summarize } from "../../runtime/counters.js";
import { pct, sig } from "../../runtime/table.js";
import { prepareJob } from "../../targets/run/job.js";
import { generate, type Generated } from "../../targets/run/generate.js";
import type { RawResult } from "../../targets/run/result.js";
import type { PreparedJob } from "../../targets/run/job.js";
import { addTargetOptions, engineOption, numberOption, targetOptionValues } from "../options.js";

interface GenerateCliOptions {
  prompt: string;
  tokens: string;
  temperature: string;
  seed?: string;
  engine?: string;
  json?: boolean;
  quiet?: boolean;
  mode?: string;
}

interface Energy { dynamic: number; static: number; noc: number; total: number }
interface Mode { latencySeconds: number; tickSeconds: number; energyJoules: Energy }

/** A target report that prices time and energy (duck-typed: the CLI names no target). */
interface PricedReport {
  pes: number;
  ticks: number;
  eventMode: Mode;
  denseMode: Mode;
  activitySparsity: Record<string, number>;
  activitySparsityOverall: number;
  tickSeconds?: { event: number[] };
  gains?: { combined: number; energy: number };
}

function priced(json: Record<string, unknown> | undefined): PricedReport | null {
  const r = json as Partial<PricedReport> | undefined;
  return r && typeof r.pes === "number" && r.eventMode?.energyJoules && r.denseMode?.energyJoules && typeof r.ticks === "number" ? (r as PricedReport) : null;
}

/**
 * Per token of one mode: energy = the sequence's ÷ its model steps; latency = the time one token takes through
 * the whole pipeline (the sequence's latency less the T − 1 further ticks of a pipelined run: the next token
 * cannot enter before this one's output chose it).
 */
function perToken(m: Mode, T: number) {
  const e = m.energyJoules;
  return {
    latency_seconds: m.latencySeconds - (T - 1) * m.tickSeconds,
    tick_seconds: m.tickSeconds,
    energy_joules: { dynamic: e.dynamic / T, static: e.static / T, noc: e.noc / T, total: e.total / T },
  };
}

function activity(result: RawResult, rep: PricedReport | null): { overall: number; per_population: Record<string, number> } {
  if (rep) return { overall: rep.activitySparsityOverall, per_population: rep.activitySparsity };
  if (result.kind === "sim") throw new Error("internal: a simulator run without its target's report");
  const s = summarize(result.counters);
  return { overall: s.activation_sparsity, per_population: s.activation_sparsity_per_population };
}

function figures(job: PreparedJob, g: Generated, options: Record<string, string | undefined>) {
  const rep = priced(job.loaded?.report?.(g.result, options).json);
  const P = g.prompt.length;
  return {
    engine: job.engine,
    stepping: g.stepping,
    model_steps: g.ticks,
    activity_sparsity: activity(g.result, rep),
    chip: rep ? {
      pes: rep.pes,
      per_token: perToken(rep.eventMode, rep.ticks),
      per_token_dense: perToken(rep.denseMode, rep.ticks),
      energy_gain_vs_dense: rep.denseMode.energyJoules.total / rep.eventMode.energyJoules.total,
      synaptic_op_reduction: rep.gains?.combined ?? null,
      // tick t's input is token t; the token generated at tick t is generated token t − (P − 1).
      generated_tick_seconds: rep.tickSeconds ? rep.tickSeconds.event.slice(P - 1) : null,
    } : null,
  };
}

const us = (s: number) => `${sig(s * 1e6)} µs`;
const uj = (j: number) => `${sig(j * 1e6)} µJ`;

function text(prompt: string, g: Generated, f: ReturnType<typeof figures>, quiet: boolean): string {
  const lines = [prompt + g.text];
  if (quiet) return lines.join("\n") + "\n";
  lines.push("");
  lines.push(`engine     ${f.engine}: ${f.stepping === "session" ? "one model step per token, state kept between steps" : "the prefix re-run for every token (no stepping session on this engine)"}`);
  lines.push(`tokens     ${g.prompt.length} prompt + ${g.tokens.length} generated (${g.vocabulary.mode}, vocabulary ${g.vocabulary.tokens.length}) = ${g.ticks} model steps`);
  const per = Object.entries(f.activity_sparsity.per_population).map(([n, v]) => `${n} ${pct(v)}`).join(", ");
  lines.push(`activity   sparsity ${pct(f.activity_sparsity.overall)} overall; ${per}`);
  const c = f.chip;
  if (c) {
    const e = c.per_token.energy_joules, d = c.per_token_dense.energy_joules;
    lines.push(`chip       ${c.pes} PEs`);
    lines.push(`per token  latency ${us(c.per_token.latency_seconds)} (tick ${us(c.per_token.tick_seconds)}), energy ${uj(e.total)} = dynamic ${uj(e.dynamic)} + static ${uj(e.static)} + NoC ${uj(e.noc)}`);
    lines.push(`dense      latency ${us(c.per_token_dense.latency_seconds)}, energy ${uj(d.total)} per token: ×${sig(c.energy_gain_vs_dense)} the event-driven energy` +
      (c.synaptic_op_reduction !== null ? `, ×${sig(c.synaptic_op_reduction)} the synaptic operations` : ""));
  } else {
    lines.push(`chip       no time or energy model on the ${f.engine} engine (compile with --target spinnaker2 and generate on that bundle)`);
  }
  return lines.join("\n") + "\n";
}

async function generateCommand(model: string, opts: GenerateCliOptions): Promise<void> {
  const count = numberOption("-n", opts.tokens, 1, 1e6, true)!;
  const temperature = numberOption("--temperature", opts.temperature, 0, 100)!;
  const seed = numberOption("--seed", opts.seed ?? "1", 0, 2 ** 32 - 1, true)!;
  if (opts.seed !== undefined && temperature === 0) process.stderr.write("nmc: warning: --seed has no effect at --temperature 0 (argmax draws nothing)\n");
  if (opts.prompt === undefined) throw new NmcError("--prompt is required", { expected: '--prompt "some text"' });
  const options = targetOptionValues(opts, "runOptions");
  const job = await prepareJob({ model, engine: opts.engine, options });
  const g = generate(job, model, { prompt: opts.prompt, count, temperature, seed, options });
  const f = figures(job, g, options);
  if (opts.json) {
    process.stdout.write(JSON.stringify({
      model, prompt: opts.prompt, text: g.text, temperature, seed,
      prompt_tokens: g.prompt, tokens: g.tokens, token_strings: g.tokens.map((t) => g.vocabulary.tokens[t]), vocabulary_mode: g.vocabulary.mode,
      ...f,
    }, null, 2) + "\n");
    return;
  }
  process.stdout.write(text(opts.prompt, g, f, opts.quiet === true));
}

export function registerGenerate(program: Command): void {
  const cmd = program
    .command("generate")
    .description("generate text with a compiled language model, one token per model step, each chosen token fed back as the next input")
    .argument("<model>", "a bundle from nmc compile (.nmb), or model.json (float engine): an Embedding input and a per-step output over the same vocabulary, which model.json's userDefinedMetadata.nmc.vocabulary names")
    .requiredOption("--prompt <text>", "the text generation continues (tokens of the model's vocabulary: characters, or words split at spaces)")
    .addOption(new Option("-n, --tokens <n>", "how many tokens to generate").default("40"))
    .addOption(new Option("--temperature <t>", "0: the most likely token every step (argmax); T > 0: a draw from softmax(logits / T)").default("0"))
    .option("--seed <s>", "seeds the draws at T > 0 (runtime/random.ts; default 1): the same seed gives the same text on golden, spinnaker2 and cuda")
    .addOption(engineOption())
    .option("--json", "print the text, the token ids and the per-token figures as one JSON document")
    .option("-q, --quiet", "print the text only")
    .addHelpText("after", `
Examples:
  $ nmc compile examples/egru-lm/model.json --target spinnaker2 -o lm.nmb
  $ nmc generate lm.nmb --prompt "The jury said" -n 40
  $ nmc generate lm.nmb --prompt "The jury said" -n 200 --temperature 0.8 --seed 7
  $ nmc generate lm.nmb --prompt "The jury said" --engine golden --json
  $ nmc generate examples/egru-lm/model.json --prompt "The jury said"     # the float model

The prompt enters one token per model step; from its last token on, each step's output gives the next token,
which is the next step's input. The recurrent state stays in the engine between steps (golden, spinnaker2: one
tick per token; cuda and float re-run the prefix for every token, with the same outputs). After the text come
the run's figures: activity sparsity per population, and on spinnaker2 the PEs used and, per token, the latency
through the whole pipeline (a token cannot enter before the previous output chose it), the energy split into
dynamic, static and NoC, and the same run charged densely.

A model that cannot generate is refused (exit 2) naming why: its input is not an Embedding, its output is not
one value per vocabulary token every step, or it carries no vocabulary.`)
    .action(async (model: string, opts: GenerateCliOptions) => generateCommand(model, opts));
  addTargetOptions(cmd, "runOptions");
}
