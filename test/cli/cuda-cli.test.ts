// Black-box tests of the cuda target through the built CLI: compile embeds the generated sources, verify
// finds the emulation bit-exact with golden (and the spinnaker2 simulator with the CUDA reference), a CUDA
// source that computes something else is caught with the first mismatch and exit 1, and the float variant
// reproduces the float model's accuracy. They need a C++ compiler (g++ or nvcc), not a GPU.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CUDA_SOURCE_SECTION } from "../../targets/cuda/target.js";
import { readBundle, writeBundle } from "../../ir/bundle.js";
import { ensureBuilt, runNmcAsync } from "../support/cli.js";

const hasCompiler = ["g++", "nvcc"].some((c) => spawnSync(c, ["--version"], { encoding: "utf8" }).status === 0);
const EX = "examples/egru-smnist";
let dir = "";
const nmc = (args: string[]) => runNmcAsync(args, { timeoutMs: 180_000, env: { NMC_CUDA_CACHE: join(dir, "cache") } });

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "nmc-cuda-cli-"));
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasCompiler)(`nmc and the cuda target${hasCompiler ? "" : " (skipped: neither g++ nor nvcc is installed)"}`, () => {
  it("compile --target cuda embeds both sources; verify --against golden is bit-exact; float variant = float model", async () => {
    const c = join(dir, "c.nmb");
    const r = await nmc(["compile", `${EX}/model.json`, "--target", "cuda", "-o", c, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const b = readBundle(c);
    expect(b.manifest.target).toBe("cuda");
    expect(new TextDecoder().decode(b.sections.get(CUDA_SOURCE_SECTION)!.data)).toContain("pop_egru__update");
    expect(b.sections.has("cuda.source.float")).toBe(true);

    const v = await nmc(["verify", c, "--input", `${EX}/inputs/x.npy`, "--against", "golden"]);
    expect(v.code, v.stderr + v.stdout).toBe(0);
    expect(v.stdout).toMatch(/^bit-exact: CUDA reference/);

    const fl = await nmc(["run", c, "--precision", "float", "--input", `${EX}/inputs/x.npy`, "--labels", `${EX}/inputs/y.npy`, "--json"]);
    const ref = await nmc(["run", `${EX}/model.json`, "--input", `${EX}/inputs/x.npy`, "--labels", `${EX}/inputs/y.npy`, "--json"]);
    expect(fl.code, fl.stderr).toBe(0);
    expect(JSON.parse(fl.stdout).accuracy).toBe(JSON.parse(ref.stdout).accuracy);
    const gi = await nmc(["run", c, "--input", `${EX}/inputs/x.npy`, "--labels", `${EX}/inputs/y.npy`, "--json"]);
    const gg = await nmc(["run", c, "--engine", "golden", "--input", `${EX}/inputs/x.npy`, "--labels", `${EX}/inputs/y.npy`, "--json"]);
    expect(JSON.parse(gi.stdout).engine).toBe("cuda");
    expect(JSON.parse(gi.stdout).accuracy).toBe(JSON.parse(gg.stdout).accuracy);
  }, 300_000);

  it("verify of a spinnaker2 bundle against cuda compares the simulator with the CUDA reference", async () => {
    const s = join(dir, "s.nmb");
    expect((await nmc(["compile", `${EX}/model.json`, "--target", "spinnaker2", "-o", s, "-q"])).code).toBe(0);
    const v = await nmc(["verify", s, "--input", `${EX}/inputs/x.npy`, "--against", "cuda", "--json"]);
    expect(v.code, v.stderr).toBe(0);
    const j = JSON.parse(v.stdout);
    expect(j.ok).toBe(true);
    expect(j.mismatch).toBeNull();
    expect(j.events_compared).toBeGreaterThan(0);
  }, 300_000);

  it("a CUDA source that fires on c − θ ≥ 0 instead of > 0 is caught: exit 1 with the first mismatch", async () => {
    const c = join(dir, "c.nmb");
    const bad = join(dir, "bad.nmb");
    const b = readBundle(c);
    const src = new TextDecoder().decode(b.sections.get(CUDA_SOURCE_SECTION)!.data);
    expect(src).toContain("if (d > 0)");
    const tampered = src.replace("if (d > 0)", "if (d >= 0 && c != 0)");
    writeBundle(bad, {
      modelName: b.manifest.modelName, modelSource: b.manifest.modelSource, target: b.manifest.target, meta: b.manifest.meta,
      sections: [...b.sections.values()].map((s) => (s.name === CUDA_SOURCE_SECTION ? { ...s, data: new TextEncoder().encode(tampered) } : s)),
    });
    const v = await nmc(["verify", bad, "--input", `${EX}/inputs/x.npy`, "--against", "golden"]);
    expect(v.code, v.stderr + v.stdout).toBe(1);
    expect(v.stdout).toMatch(/^MISMATCH: sample \d+, tick \d+, population \w+, index \d+: CUDA reference .* gives -?\d+, golden engine -?\d+/);
  }, 300_000);
});
