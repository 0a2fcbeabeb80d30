// The progress bar of long runs: on stderr, TTY only, shown once a run has taken 2 s, counting input
// sequences done by all worker threads together. Never with --quiet or --json.
import cliProgress from "cli-progress";

export interface SampleProgress {
  /** Samples done so far, out of total. */
  update(done: number, total: number): void;
  stop(): void;
}

export function sampleProgress(verb: string, quiet: boolean): SampleProgress | undefined {
  if (quiet || process.stderr.isTTY !== true) return undefined;
  const t0 = performance.now();
  let bar: cliProgress.SingleBar | undefined;
  return {
    update(done, total) {
      if (!bar) {
        if (performance.now() - t0 < 2000) return;
        bar = new cliProgress.SingleBar({ stream: process.stderr, format: `${verb} {bar} {value}/{total} sequences  eta {eta}s`, hideCursor: true }, cliProgress.Presets.shades_classic);
        bar.start(total, done);
      } else bar.update(done);
    },
    stop() {
      bar?.stop();
    },
  };
}
