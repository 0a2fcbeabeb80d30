// `nmc merge part*.json`: combines the part files of `nmc run --shard i/n --save part.json` into the result of
// the whole input, and prints what `nmc run` would have printed for it (summary table, JSON, spinnaker2
// report; --out, --labels, --html, -o as there). The parts must come from the same model, engine and input,
// and cover every shard exactly once.
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { NmcError } from "../../ir/errors.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy } from "../../runtime/io/npy.js";
import { prepareJob } from "../../targets/run/job.js";
import { MergeError, mergeResults } from "../../targets/run/result.js";
import { splitRange } from "../../targets/run/shard.js";
import { readPart, type PartFile } from "../batch/part.js";
import { present } from "../batch/present.js";
import { addTargetOptions } from "../options.js";

interface MergeOptions {
  model?: string;
  out?: string;
  labels?: string;
  output?: string;
  json?: boolean;
  /** spinnaker2's run options; default: as the parts were run. */
  mode?: string;
  level?: string;
  html?: string;
  quiet?: boolean;
}

const short = (sha: string) => sha.slice(0, 12);

/** The parts in shard order, checked to belong together and to cover every shard once. */
export function checkParts(files: string[], parts: PartFile[]): { file: string; part: PartFile }[] {
  const f0 = files[0], p0 = parts[0];
  const differ = (file: string, what: string, mine: string, theirs: string): never => {
    throw new NmcError(`${file} is not a part of the same run as ${f0}: ${what} differ`, {
      file, expected: `${theirs} (as in ${f0})`, found: mine, hint: "merge only the parts of one nmc run --shard i/n job",
    });
  };
  parts.forEach((p, i) => {
    const f = files[i];
    if (p.model.sha256 !== p0.model.sha256) differ(f, "the models", `${p.model.file} (sha256 ${short(p.model.sha256)}…)`, `${p0.model.file} (sha256 ${short(p0.model.sha256)}…)`);
    if (p.engine !== p0.engine) differ(f, "the engines", p.engine, p0.engine);
    if (p.readout !== p0.readout) differ(f, "the --readout options", String(p.readout), String(p0.readout));
    if (p.precision !== p0.precision) differ(f, "the --precision options", String(p.precision), String(p0.precision));
    if (p.input.sha256 !== p0.input.sha256 || p.input.samples !== p0.input.samples) {
      differ(f, "the inputs", `${p.input.file}, ${p.input.samples} samples (sha256 ${short(p.input.sha256)}…)`, `${p0.input.file}, ${p0.input.samples} samples (sha256 ${short(p0.input.sha256)}…)`);
    }
    if (p.shard.count !== p0.shard.count) differ(f, "the shard counts", `shard ${p.shard.index}/${p.shard.count}`, `n = ${p0.shard.count}`);
  });
  const n = p0.shard.count;
  const byIndex = new Map<number, number>();
  parts.forEach((p, i) => {
    const seen = byIndex.get(p.shard.index);
    if (seen !== undefined) {
      throw new NmcError(`shard ${p.shard.index}/${n} is given twice: ${files[seen]} and ${files[i]}`, { file: files[i], hint: "pass each part file once" });
    }
    byIndex.set(p.shard.index, i);
  });
  const missing: number[] = [];
  for (let i = 1; i <= n; i++) if (!byIndex.has(i)) missing.push(i);
  if (missing.length) {
    const have = [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([i, k]) => `${i}/${n} from ${files[k]}`).join(", ");
    throw new NmcError(`shard${missing.length > 1 ? "s" : ""} ${missing.map((i) => `${i}/${n}`).join(", ")} ${missing.length > 1 ? "are" : "is"} missing`, {
      expected: `all ${n} shards of the run, each once`, found: have || "none",
      hint: `run nmc run ... --shard ${missing[0]}/${n} --save part-${missing[0]}.json and merge again`,
    });
  }
  const ranges = splitRange(p0.input.samples, n);
  const ordered = [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, k]) => ({ file: files[k], part: parts[k] }));
  for (const { file, part } of ordered) {
    const r = ranges[part.shard.index - 1];
    if (part.shard.start !== r.start || part.shard.end !== r.end) {
      throw new NmcError(`shard ${part.shard.index}/${n} holds samples ${part.shard.start}..${part.shard.end - 1}, not the ${r.start}..${r.end - 1} of its split`, { file });
    }
  }
  return ordered;
}

async function mergeCommand(files: string[], opts: MergeOptions): Promise<void> {
  const parts = files.map((f) => readPart(f));
  const ordered = checkParts(files, parts);
  const p0 = ordered[0].part;
  let result;
  try {
    result = mergeResults(ordered.map((o) => o.part.result));
  } catch (e) {
    if (e instanceof MergeError) throw new NmcError(e.message, { file: files.join(", "), hint: "the part files do not come from one nmc run job (or were edited)" });
    throw e;
  }
  const modelFile = opts.model ?? (existsSync(p0.model.path) ? p0.model.path : p0.model.file);
  const job = await prepareJob({ model: modelFile, engine: p0.engine, readout: p0.readout ?? undefined, precision: p0.precision ?? undefined });
  if (job.identity() !== p0.model.sha256) {
    throw new NmcError("this model is not the one the parts were run with", {
      file: modelFile, expected: `sha256 ${short(p0.model.sha256)}… (${p0.model.file})`, found: `sha256 ${short(job.identity())}…`,
      hint: "pass the model the parts were run with: nmc merge --model <bundle> part*.json",
    });
  }
  if (opts.html && !job.loaded?.report) throw new NmcError(`--html draws a target's own report; the ${job.engine} engine has none`, { hint: "merge the parts of a spinnaker2 bundle's run" });
  let labels: { values: Float64Array; file: string } | undefined;
  if (opts.labels) {
    labels = { values: toFloat64(readNpy(opts.labels)), file: opts.labels };
  } else if (ordered.every((o) => o.part.labels !== null)) {
    labels = { values: Float64Array.from(ordered.flatMap((o) => o.part.labels!.values)), file: p0.labels?.file ?? "labels" };
  } else if (ordered.some((o) => o.part.labels !== null) && !opts.json && !opts.quiet) {
    process.stderr.write("nmc: note: only some parts carry labels; no accuracy (pass --labels y.npy)\n");
  }
  const seconds = ordered.reduce((a, o) => a + o.part.seconds, 0);
  const n = p0.shard.count;
  const text = await present({
    model: p0.model.file, job, precision: p0.precision ?? undefined, result,
    input: { file: p0.input.file, shape: p0.input.shape, dtype: p0.input.dtype }, out: opts.out, labels, json: opts.json === true,
    options: { mode: opts.mode ?? p0.mode, level: opts.level ?? p0.level ?? undefined }, seconds,
    extra: { merged: { shards: n, files: ordered.map((o) => o.file) } },
    headLines: [`merged   ${n} shard${n === 1 ? "" : "s"}: ${ordered.map((o) => o.file).join(", ")} (${seconds.toFixed(1)} s of runs)`],
    html: opts.html ? { file: opts.html, title: `nmc: ${p0.model.file} on ${job.target?.displayName ?? job.engine}, ${n} shards merged` } : undefined,
    jsonFile: opts.output,
  });
  if (!opts.quiet || opts.json) process.stdout.write(text);
}

export function registerMerge(program: Command): void {
  const cmd = program
    .command("merge")
    .description("combine the part files of nmc run --shard i/n --save into the result of the whole input")
    .argument("<parts...>", "part files written by nmc run --shard i/n --save part.json, one per shard, in any order")
    .option("--model <file>", "the bundle or model.json the parts were run with (default: the path stored in the parts; its checksum must match)")
    .option("--out <file>", "write the outputs of the whole input as float32 .npy, as nmc run --out does")
    .option("--labels <file>", ".npy of integer class labels [B] for the whole input (default: the labels the parts carry, if they all do)")
    .option("-o, --output <file>", "also write the JSON summary (what nmc run --json prints; nmc report reads a spinnaker2 one)")
    .option("--json", "print the JSON summary on stdout")
    .option("-q, --quiet", "print nothing (write -o, --out and --html only); with --json, just the JSON")
    .option("--html <file>", "spinnaker2: also write the HTML report (without the activity raster, which needs the run itself)")
    .addHelpText("after", `
The parts must come from one model (same checksum), engine, --readout, --precision and input (same checksum of
the decoded values), and cover shards 1/n … n/n exactly once; otherwise merge exits 2 naming the file. The
merged figures are identical to those of one nmc run over the whole input.

Exit codes: 0 merged, 2 a part is missing, given twice, unreadable, or from another run.

Examples:
  $ for i in 1 2 3; do nmc run s.nmb --input x.npy --labels y.npy --shard $i/3 --save part-$i.json; done
  $ nmc merge part-1.json part-2.json part-3.json
  $ nmc merge part-*.json --json -o merged.json && nmc report merged.json --html report.html
  $ nmc merge part-*.json --out outputs.npy --labels y.npy
  $ sbatch --array=1-8 --wrap 'nmc run s.nmb --input x.npy --shard $SLURM_ARRAY_TASK_ID/8 --save part-$SLURM_ARRAY_TASK_ID.json'
    # then: nmc merge part-*.json`)
    .action(async (files: string[], opts: MergeOptions) => mergeCommand(files, opts));
  // The targets' run options without their defaults: a merge reports as the parts were run unless told otherwise.
  addTargetOptions(cmd, "runOptions", { defaults: false, prefix: "report with this value (default: as the parts were run): " });
}
