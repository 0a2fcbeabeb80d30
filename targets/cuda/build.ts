// Compiling a generated .cu source into an executable, cached by content: the cache key is
// sha256(source + mode + compiler identity), so an unchanged model is compiled once per machine.
//   gpu:       nvcc -O2 -x cu
//   emulation: g++ -O2 -std=c++17 -x c++ -DNMC_EMULATE   (or nvcc -x c++ … -DNMC_EMULATE without g++)
// The cache lives in $NMC_CUDA_CACHE, else $XDG_CACHE_HOME/nmc/cuda, else ~/.cache/nmc/cuda.
// The compilers can be replaced with NMC_NVCC and NMC_CXX (paths or names on PATH).
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { NmcError } from "../../ir/errors.js";

export type CudaBuildMode = "gpu" | "emulation";

export interface CudaBuild {
  /** Path of the executable. */
  exe: string;
  /** The compiler command line used (without file names). */
  compiler: string;
  /** True when the executable came from the cache. */
  cached: boolean;
}

interface Compiler {
  cmd: string;
  flags: string[];
  /** `cmd flags` plus the first line of `cmd --version`: part of the cache key. */
  identity: string;
}

export function cudaCacheDir(): string {
  const env = process.env.NMC_CUDA_CACHE;
  if (env) return env;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.length > 0 ? xdg : join(homedir(), ".cache"), "nmc", "cuda");
}

const versions = new Map<string, string | null>();

/** The version lines of `cmd --version`, or null when the command cannot be run. */
function versionOf(cmd: string): string | null {
  if (versions.has(cmd)) return versions.get(cmd)!;
  let v: string | null = null;
  try {
    const r = spawnSync(cmd, ["--version"], { encoding: "utf8", timeout: 30_000 });
    if (r.status === 0) {
      // The lines that carry version numbers (g++: the first; nvcc: "release 13.0, V13.0.88" and its build id).
      const lines = `${r.stdout}`.split("\n").map((l) => l.trim()).filter(Boolean);
      v = lines.filter((l) => /\d+\.\d+/.test(l)).join(" / ") || lines[0] || cmd;
    }
  } catch {
    v = null;
  }
  versions.set(cmd, v);
  return v;
}

const nvccCmd = () => process.env.NMC_NVCC || "nvcc";
const cxxCmd = () => process.env.NMC_CXX || "g++";

/** The compiler a mode uses here, or null if none is installed. */
export function findCompiler(mode: CudaBuildMode): Compiler | null {
  if (mode === "gpu") {
    const v = versionOf(nvccCmd());
    return v === null ? null : { cmd: nvccCmd(), flags: ["-O2", "-x", "cu"], identity: `${nvccCmd()} -O2 -x cu (${v})` };
  }
  const flags = ["-O2", "-std=c++17", "-x", "c++", "-DNMC_EMULATE"];
  const gv = versionOf(cxxCmd());
  if (gv !== null) return { cmd: cxxCmd(), flags, identity: `${cxxCmd()} ${flags.join(" ")} (${gv})` };
  const nv = versionOf(nvccCmd());
  if (nv !== null) return { cmd: nvccCmd(), flags, identity: `${nvccCmd()} ${flags.join(" ")} (${nv})` };
  return null;
}

/** Whether a compiler for `mode` is installed (emulation: g++ or nvcc; gpu: nvcc). */
export function compilerAvailable(mode: CudaBuildMode = "emulation"): boolean {
  return findCompiler(mode) !== null;
}

/** True only if `nvidia-smi -L` runs and lists at least one GPU. */
export function gpuAvailable(): boolean {
  try {
    const r = spawnSync("nvidia-smi", ["-L"], { encoding: "utf8", timeout: 30_000 });
    return r.status === 0 && /^GPU \d+/m.test(`${r.stdout}`);
  } catch {
    return false;
  }
}

/**
 * Compiles `source` for `mode` into the cache (or finds it there). Throws an NmcError with the compiler's
 * diagnostics when the build fails, or when no compiler for the mode is installed.
 */
export function buildCuda(source: string, mode: CudaBuildMode): CudaBuild {
  const c = findCompiler(mode);
  if (!c) {
    throw new NmcError(mode === "gpu" ? "cannot build the CUDA program: nvcc was not found" : "cannot build the CUDA emulation program: neither g++ nor nvcc was found", {
      hint: mode === "gpu" ? "install the CUDA toolkit (or set NMC_NVCC), or use the emulation build" : "install g++ (or set NMC_CXX)",
    });
  }
  const key = createHash("sha256").update(source).update("\0").update(mode).update("\0").update(c.identity).digest("hex");
  const dir = cudaCacheDir();
  const exe = join(dir, `nmc-${mode}-${key.slice(0, 32)}`);
  const compiler = `${c.cmd} ${c.flags.join(" ")}`;
  if (existsSync(exe)) return { exe, compiler, cached: true };
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new NmcError(`cannot create the CUDA build cache: ${(e as Error).message}`, { file: dir, hint: "set NMC_CUDA_CACHE to a writable directory" });
  }
  const src = `${exe}.cu`;
  const tmp = `${exe}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(src, source);
  const r = spawnSync(c.cmd, [...c.flags, "-o", tmp, src], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    const diag = `${r.stderr ?? ""}${r.stdout ?? ""}`.trim();
    const tail = diag.length > 8000 ? `…${diag.slice(-8000)}` : diag;
    throw new NmcError(`the CUDA ${mode} build failed: ${compiler} exited with ${r.error ? r.error.message : `status ${r.status}`}${tail ? `\n${tail}` : ""}`, {
      file: src,
      hint: "the generated source is kept at the path above",
    });
  }
  chmodSync(tmp, 0o755);
  renameSync(tmp, exe); // atomic: a concurrent build of the same key writes the same bytes
  return { exe, compiler, cached: false };
}
