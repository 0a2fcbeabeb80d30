// Runs the built `nmc` command as a child process, the way a user does, for black-box tests.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const distMain = join(repoRoot, "dist", "cli", "main.js");

const SOURCE_DIRS = ["ir", "runtime", "compiler", "targets", "cli", "examples", "bench"];
/** Source files at the repository root (the public API module). */
const ROOT_SOURCES = ["index.ts"];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export function runNmc(args: string[], opts: RunOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [distMain, ...args], {
    cwd: opts.cwd ?? repoRoot,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", ...opts.env },
  });
  if (r.error) throw r.error;
  // A signal (timeout, crash) has no exit status; report it as a code no test accepts.
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The same as runNmc without blocking the event loop: a long property test made of synchronous spawns
 * starves vitest's worker RPC ("Timeout calling onTaskUpdate").
 */
export function runNmcAsync(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [distMain, ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

function newestSourceMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") newest = Math.max(newest, newestSourceMtime(p));
    } else if (/\.(ts|proto|json)$/.test(entry.name)) {
      newest = Math.max(newest, statSync(p).mtimeMs);
    }
  }
  return newest;
}

function needsBuild(): boolean {
  if (!existsSync(distMain)) return true;
  const built = statSync(distMain).mtimeMs;
  return SOURCE_DIRS.some((d) => newestSourceMtime(join(repoRoot, d)) > built) ||
    ROOT_SOURCES.some((f) => existsSync(join(repoRoot, f)) && statSync(join(repoRoot, f)).mtimeMs > built);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `npm run build`, asynchronously (a 30 s synchronous build would starve vitest's worker RPC). */
function npmBuild(): Promise<{ status: number | null; log: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn("npm", ["run", "build"], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (log += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (log += d));
    child.on("error", (e) => resolvePromise({ status: null, log: `${log}\n${String(e)}` }));
    child.on("close", (status) => resolvePromise({ status, log }));
  });
}

/**
 * Builds dist/ with `npm run build` when dist/cli/main.js is missing or older than a source file.
 * Test files run in parallel workers, so a lock directory keeps two builds from racing. A build that
 * reports type errors but still emitted dist/cli/main.js is used (with a warning): other folders may be
 * mid-edit, and the CLI's behaviour is what these tests judge.
 */
export async function ensureBuilt(): Promise<void> {
  const lock = join(repoRoot, "dist", ".nmc-test-build.lock");
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + 240_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Someone else is building; a lock older than the deadline is stale (a killed test run).
      try {
        if (Date.now() - statSync(lock).mtimeMs > 240_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* the lock vanished between the two calls */
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${lock}`);
      await sleep(250);
    }
  }
  try {
    if (!needsBuild()) return;
    const r = await npmBuild();
    if (r.status !== 0) {
      const log = r.log.trim().split("\n").slice(-40).join("\n");
      if (!existsSync(distMain)) throw new Error(`npm run build failed and produced no ${distMain}:\n${log}`);
      console.warn(`npm run build exited ${r.status}; testing the emitted dist/ anyway:\n${log}`);
      // tsc failing skips the asset copy that `npm run build` chains after it; do it so dist/ can run.
      spawnSync(process.execPath, ["scripts/copy-assets.mjs"], { cwd: repoRoot, encoding: "utf8" });
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
