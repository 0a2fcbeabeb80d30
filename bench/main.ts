// `npm run bench` (full) and `npm run bench:quick` (≤ 2 minutes): runs the benchmarks, writes one JSON per
// benchmark to bench/results/<name>.json and the tables to bench/RESULTS.md, each stamped with the machine,
// the Node version, the date and the commit. Options: --quick, --only a,b (names), --list.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../index.js";
import type { Benchmark, BenchOutput, Goal } from "./lib.js";
import { mdTable } from "./lib.js";
import { REPO } from "./models.js";
import { BENCHMARKS } from "./registry.js";

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  date: string;
  commit: string;
  dirty: boolean;
}

function git(args: string[]): string | null {
  try {
    return execFileSync("git", args, { cwd: REPO, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
    commit: git(["rev-parse", "--short=12", "HEAD"]) ?? "unknown (not a git checkout)",
    dirty: (git(["status", "--porcelain", "--untracked-files=no"]) ?? "") !== "",
  };
}

const writeAtomic = (file: string, text: string) => writeFileAtomic(file, new TextEncoder().encode(text), "benchmark results");

const metText = (g: Goal) => (g.met === null ? "n/a" : g.met ? "**met**" : "**not met**");

interface Done {
  bench: Benchmark;
  out: BenchOutput | null;
  error?: string;
  seconds: number;
}

function resultsMarkdown(m: MachineInfo, quick: boolean, done: Done[], total: number): string {
  const lines = [
    "# nmc benchmark results",
    "",
    `Written by \`npm run ${quick ? "bench:quick" : "bench"}\` (${quick ? "quick mode: fewer samples and repeats, no 10⁷-parameter compile" : "full mode"}) ` +
      `in ${total.toFixed(0)} s. Every figure below is measured by that command; nothing is typed in by hand.`,
    "",
    mdTable(["", ""], [
      ["machine", `${m.cpu}, ${m.cores} cores available, ${m.memoryGiB} GiB`],
      ["platform", m.platform],
      ["node", m.node],
      ["date", m.date],
      ["commit", `${m.commit}${m.dirty ? " (with uncommitted changes)" : ""}`],
    ]),
    "",
    "Timings: each figure is the median of the repeats after warm-up runs; the range (min–max) and n follow it.",
    "Single-thread figures use one thread. Other load on the machine is not controlled: run it idle.",
    "",
    "## Goals",
    "",
    mdTable(["benchmark", "goal", "measured", "verdict", "note"], done.flatMap((d) =>
      d.out ? d.out.goals.map((g) => [d.bench.name, g.goal, g.measured, metText(g), g.note ?? ""]) : [[d.bench.name, "(benchmark failed)", d.error ?? "", "**not met**", ""]],
    )),
    "",
  ];
  for (const d of done) {
    lines.push(`## ${d.bench.title}`, "", `Benchmark \`${d.bench.name}\`, ${d.seconds.toFixed(1)} s; figures in \`bench/results/${d.bench.name}.json\`.`, "");
    lines.push(d.out ? d.out.markdown.trim() : `It failed: ${d.error}`, "");
  }
  return lines.join("\n");
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`usage: npm run bench [-- --only name,...]     full run (minutes)
       npm run bench:quick                       quick run (≤ 2 minutes)
       node dist/bench/main.js --list            the benchmarks

Writes bench/results/<name>.json and bench/RESULTS.md.
`);
    return 0;
  }
  if (args.includes("--list")) {
    for (const b of BENCHMARKS) process.stdout.write(`${b.name.padEnd(14)} ${b.title}\n`);
    return 0;
  }
  const quick = args.includes("--quick");
  const onlyAt = args.indexOf("--only");
  const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? "").split(",").filter(Boolean) : null;
  const unknown = only?.filter((n) => !BENCHMARKS.some((b) => b.name === n)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`nmc bench: no benchmark named ${unknown.join(", ")} (have: ${BENCHMARKS.map((b) => b.name).join(", ")})\n`);
    return 2;
  }
  const selected = BENCHMARKS.filter((b) => !only || only.includes(b.name));
  const machine = machineInfo();
  const resultsDir = join(REPO, "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  const t0 = performance.now();
  const done: Done[] = [];
  for (const bench of selected) {
    const log = (msg: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${bench.name}: ${msg}\n`);
    log(`starting (${quick ? "quick" : "full"})`);
    const s0 = performance.now();
    let out: BenchOutput | null = null;
    let error: string | undefined;
    try {
      out = await bench.run({ quick, warmup: quick ? 1 : 2, repeats: quick ? 3 : 7, log });
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      log(`FAILED: ${error}`);
      if (process.env.NMC_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    }
    const seconds = (performance.now() - s0) / 1000;
    done.push({ bench, out, error, seconds });
    writeAtomic(join(resultsDir, `${bench.name}.json`), JSON.stringify({
      name: bench.name, title: bench.title, mode: quick ? "quick" : "full", machine, seconds,
      ...(out ? { goals: out.goals, figures: out.figures } : { error }),
    }, null, 2) + "\n");
    log(`done in ${seconds.toFixed(1)} s`);
  }
  const total = (performance.now() - t0) / 1000;
  if (!only) writeAtomic(join(REPO, "bench", "RESULTS.md"), resultsMarkdown(machine, quick, done, total));
  else process.stderr.write("(--only: bench/RESULTS.md is written by a run of every benchmark; the JSON files were updated)\n");
  for (const d of done) {
    for (const g of d.out?.goals ?? []) process.stdout.write(`${d.bench.name.padEnd(12)} ${metText(g).replace(/\*/g, "").padEnd(12)} ${g.goal}: ${g.measured}\n`);
  }
  process.stdout.write(`${done.length} benchmarks in ${total.toFixed(1)} s -> bench/results/, ${only ? "" : "bench/RESULTS.md"}\n`);
  return done.some((d) => d.out === null) ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`nmc bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
