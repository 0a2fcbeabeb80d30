import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { FLOAT_IR_SECTION, bundleGraph, readBundle } from "../../ir/bundle.js";
import { writeFileAtomic } from "../../ir/files.js";
import { FloatEngine } from "../../runtime/float/interpreter.js";
import { batchFromShape } from "../../runtime/batch.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy } from "../../runtime/io/npy.js";
import { compileToBundle } from "../../targets/compile.js";
import { getTarget } from "../../targets/registry.js";
import type { SimResult } from "../../targets/run/result.js";
import { VerificationFailed } from "../exit.js";
import { accuracy } from "../batch/present.js";
import { sampleProgress } from "../batch/progress.js";
import { compareRunners } from "./verify.js";

/** The demo's path: compiled for this target, verified against these references (all from the registry). */
const DEMO_TARGET = "spinnaker2";
const DEMO_REFERENCES = ["golden", "cuda"] as const;

/** The repository (or installed package) root: dist/cli/commands/ → ../../.. */
function packageRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, "..", "..", path.basename(path.resolve(here, "..", "..")) === "dist" ? ".." : ".");
}


export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("the whole path on the bundled EGRU example: compile for SpiNNaker 2, simulate, verify against golden and CUDA, report")
    .option("--example <dir>", "an example folder with model.json and inputs/{x,y,calib}.npy", "examples/egru-smnist")
    .option("--out <dir>", "where to write the bundle and the report", "nmc-demo")
    .option("--json", "print the report as JSON")
    .option("-q, --quiet", "print only the verdict")
    .addHelpText("after", `
Steps: nmc compile --target spinnaker2 (calibrating on inputs/calib.npy), nmc run on the simulator with the
committed test inputs, nmc verify --against golden and --against cuda (host emulation when there is no GPU).
Writes <out>/model.nmb, <out>/report.json and <out>/report.html (plots, self-contained). Exit 1 if a verification fails.

Examples:
  $ nmc demo
  $ nmc demo --example examples/ssm-events --out ssm-demo`)
    .action(async (opts: { example: string; out: string; json?: boolean; quiet?: boolean }) => {
      const say = (s: string) => { if (!opts.json && !opts.quiet) process.stdout.write(s + "\n"); };
      const root = packageRoot();
      const ex = path.isAbsolute(opts.example) ? opts.example : path.resolve(process.cwd(), opts.example);
      const exDir = existsSync(path.join(ex, "model.json")) ? ex : path.join(root, opts.example);
      const model = path.join(exDir, "model.json");
      const x = path.join(exDir, "inputs", "x.npy"), y = path.join(exDir, "inputs", "y.npy");
      mkdirSync(opts.out, { recursive: true });
      const bundlePath = path.join(opts.out, "model.nmb");
      const t0 = performance.now();
      const secs = () => ((performance.now() - t0) / 1000).toFixed(1);

      const { report: compileReport, target } = compileToBundle(model, { out: bundlePath, target: DEMO_TARGET });
      const mapping = compileReport.mapping as { pes: number; memory_lower_bound_pes: number };
      say(`[${secs()} s] compiled ${path.relative(process.cwd(), model)} -> ${bundlePath}: int8 weights, int16 states, ${mapping.pes} SpiNNaker 2 PEs ` +
        `(memory lower bound ${mapping.memory_lower_bound_pes}); calibrated on ${compileReport.calibration.source}`);

      const b = readBundle(bundlePath);
      const g = bundleGraph(b, bundlePath);
      const xs = readNpy(x);
      const labels = toFloat64(readNpy(y));
      const batch = batchFromShape(g, toFloat64(xs), xs.shape, x);
      const loaded = target.load(b, g, bundlePath);
      const progress = sampleProgress(target.progressVerb, opts.json === true || opts.quiet === true);
      const result = loaded.execute(batch, { options: { mode: "event" }, onProgress: progress && ((done) => progress.update(done, batch.batch)) }) as SimResult;
      progress?.stop();
      const run = result.run;
      const rep = loaded.report!(result, { mode: "event" });
      const briefText = loaded.report!(result, { mode: "event" }, true).text;
      const simAcc = accuracy(run.output, run.outputShape, labels, y);
      const fg = bundleGraph(b, bundlePath, FLOAT_IR_SECTION);
      const f = new FloatEngine(fg).run(batch);
      const floatAcc = accuracy(f.output, f.outputShape, labels, y);
      say(`[${secs()} s] simulated ${batch.batch} sequences × ${batch.ticks} ticks: accuracy ${(100 * simAcc).toFixed(2)}% (float model ${(100 * floatAcc).toFixed(2)}%)`);

      const [golden, cuda] = DEMO_REFERENCES.map((n) => getTarget(n));
      const vsGolden = compareRunners(g, loaded.runner, golden.reference!(g).runner, batch);
      say(`[${secs()} s] verify against golden: ${vsGolden.mismatch ? "MISMATCH " + JSON.stringify(vsGolden.mismatch) : `bit-exact (${vsGolden.compared} outputs, ${vsGolden.events} events)`}`);
      let vsCuda: ReturnType<typeof compareRunners> | null = null;
      const cudaMissing = cuda.unavailable?.() ?? null;
      let cudaName = `skipped: ${cudaMissing}`;
      if (cudaMissing === null) {
        const ref = cuda.reference!(g).runner;
        vsCuda = compareRunners(g, loaded.runner, ref, batch);
        cudaName = ref.name;
        say(`[${secs()} s] verify against ${ref.name}: ${vsCuda.mismatch ? "MISMATCH " + JSON.stringify(vsCuda.mismatch) : `bit-exact (${vsCuda.compared} outputs, ${vsCuda.events} events)`}`);
      } else say(`[${secs()} s] verify against CUDA: ${cudaName}`);

      const ok = !vsGolden.mismatch && !(vsCuda?.mismatch);
      const out = {
        example: path.relative(root, exDir) || exDir, bundle: bundlePath, seconds: Number(secs()),
        accuracy: { spinnaker2: simAcc, golden: simAcc, float: floatAcc, samples: batch.batch },
        verification: {
          golden: { bit_exact: !vsGolden.mismatch, ...vsGolden },
          cuda: vsCuda ? { reference: cudaName, bit_exact: !vsCuda.mismatch, ...vsCuda } : { skipped: cudaName },
        },
        spinnaker2: rep.json, compile: compileReport,
      };
      writeFileAtomic(path.join(opts.out, "report.json"), new TextEncoder().encode(JSON.stringify(out, null, 2) + "\n"), "report");
      const html = await rep.html!({
        title: `nmc demo: ${out.example} on SpiNNaker 2 (simulated)`, accuracy: simAcc, raster: () => rep.raster!(batch, 0),
        notes: [
          `Verification: ${vsGolden.mismatch ? "MISMATCH against the golden engine" : "bit-exact against the golden engine"}; ` +
            `${vsCuda ? (vsCuda.mismatch ? "MISMATCH against " : "bit-exact against the ") + cudaName : "CUDA " + cudaName}.`,
          `Float model accuracy on the same inputs: ${(100 * floatAcc).toFixed(2)} %.`,
        ],
      });
      writeFileAtomic(path.join(opts.out, "report.html"), new TextEncoder().encode(html), "HTML report");
      if (opts.json) process.stdout.write(JSON.stringify(out, null, 2) + "\n");
      else if (opts.quiet) process.stdout.write(ok ? "VERDICT: PASS\n" : "VERDICT: FAIL\n");
      else {
        process.stdout.write("\n" + briefText);
        say(`\nwrote ${bundlePath}, ${path.join(opts.out, "report.json")} and ${path.join(opts.out, "report.html")} in ${secs()} s`);
        say(ok ? "VERDICT: PASS — the SpiNNaker 2 simulator equals the golden engine and the CUDA reference bit for bit on every output and event"
          : "VERDICT: FAIL — see the mismatch above");
      }
      if (!ok) throw new VerificationFailed("the demo's verification failed");
    });
}
