// The surfaces of the "one house" restructuring, through the built `nmc` command: pass visibility
// (--print-after), `nmc ir` on a bundle, the stored mapping as what runs (inspect --recheck; a bundle whose
// stored routes are inconsistent is refused with exit 2 naming the section), and the registry as the one
// source of targets and engines in the help texts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBundle, writeBundle } from "../../ir/bundle.js";
import { MAPPING_SECTION } from "../../targets/spinnaker2/index.js";
import { targetNames } from "../../targets/registry.js";
import { type CliResult, ensureBuilt, runNmcAsync } from "../support/cli.js";

const MODEL = "examples/egru-smnist/model.json";
const X = "examples/egru-smnist/inputs/x.npy";

let dir = "";
let bundle = "";
let compiled: CliResult;

const show = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout.slice(0, 4000)}\nstderr:\n${r.stderr}`;

/** The text between the `// ----- IR after PASS -----` header and the next header (or the report). */
function irBlock(stdout: string, pass: string): string {
  const head = `// ----- IR after ${pass} -----\n`;
  const at = stdout.indexOf(head);
  expect(at, `no IR after ${pass} in:\n${stdout.slice(0, 2000)}`).toBeGreaterThanOrEqual(0);
  const rest = stdout.slice(at + head.length);
  const end = rest.search(/^\/\/ ----- IR after |^compiled /m);
  return (end < 0 ? rest : rest.slice(0, end)).replace(/\n$/, "");
}

beforeAll(async () => {
  await ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "nmc-one-house-"));
  bundle = join(dir, "s.nmb");
  compiled = await runNmcAsync(["compile", MODEL, "--target", "spinnaker2", "--print-after", "quantize", "-o", bundle]);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("nmc compile --print-after", () => {
  it("prints the quantized IR after the quantize pass, then the usual report", () => {
    expect(compiled.code, show(compiled)).toBe(0);
    const ir = irBlock(compiled.stdout, "quantize");
    expect(ir).toMatch(/^graph egru_smnist$/m);
    expect(ir).toMatch(/quantized weights int8/);
    expect(ir).toMatch(/tensor thr i16\[128\]/); // integer tensors: this is the quantized graph
    expect(compiled.stdout.indexOf("// ----- IR after quantize")).toBeLessThan(compiled.stdout.indexOf("compiled "));
    expect(compiled.stdout).not.toContain("IR after calibrate");
  });

  it("--print-after all prints every pass in order (frontend, calibrate, quantize); float graphs before quantize", async () => {
    const r = await runNmcAsync(["compile", MODEL, "--print-after", "all", "--calibrate-samples", "4", "-o", join(dir, "all.nmb")]);
    expect(r.code, show(r)).toBe(0);
    const order = [...r.stdout.matchAll(/^\/\/ ----- IR after (\w+) -----$/gm)].map((m) => m[1]);
    expect(order).toEqual(["frontend", "calibrate", "quantize"]);
    expect(irBlock(r.stdout, "frontend")).not.toMatch(/quantized weights/);
    expect(irBlock(r.stdout, "quantize")).toMatch(/quantized weights/);
  });

  it("prune appears when pruning runs; --json keeps stdout for the report (the IR goes to stderr)", async () => {
    const r = await runNmcAsync(["compile", MODEL, "--print-after", "prune", "--weight-sparsity", "0.5", "--calibrate-samples", "4", "--json", "-o", join(dir, "p.nmb")]);
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout).prune.target).toBe(0.5);
    expect(irBlock(r.stderr, "prune")).toMatch(/^projection egru.kernel/m);
  });

  it("refuses an unknown pass with exit 2, listing the passes", async () => {
    const r = await runNmcAsync(["compile", MODEL, "--print-after", "fold", "-o", join(dir, "x.nmb")]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toMatch(/--print-after/);
    expect(r.stderr).toMatch(/frontend, prune, calibrate, quantize/);
  });
});

describe("nmc ir on a bundle", () => {
  it("prints the bundle's quantized IR, the very text --print-after quantize printed", async () => {
    const r = await runNmcAsync(["ir", bundle]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.replace(/\n$/, "")).toBe(irBlock(compiled.stdout, "quantize"));
  });

  it("--section float prints the float IR it was quantized from (the model.json's, as nothing was pruned)", async () => {
    const [fromBundle, fromModel] = await Promise.all([runNmcAsync(["ir", bundle, "--section", "float"]), runNmcAsync(["ir", MODEL])]);
    expect(fromBundle.code, show(fromBundle)).toBe(0);
    expect(fromBundle.stdout).toBe(fromModel.stdout);
  });
});

describe("the stored mapping is what runs", () => {
  it("nmc inspect --recheck: a fresh bundle is what this nmc computes (exit 0); inspect shows the stored mapping", async () => {
    const r = await runNmcAsync(["inspect", bundle, "--recheck"]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/recheck: this nmc computes the same spinnaker2 lowering as stored/);
    expect(r.stdout).toMatch(/spinnaker2: \d+ PEs on 1 chip/);
    const j = await runNmcAsync(["inspect", bundle, "--recheck", "--json"]);
    expect(JSON.parse(j.stdout).recheck).toEqual({ differences: [] });
  });

  it("a bundle whose stored routes are inconsistent is refused with exit 2 naming the section (run, verify, inspect)", async () => {
    const b = readBundle(bundle);
    const section = b.sections.get(MAPPING_SECTION)!;
    const json = JSON.parse(new TextDecoder().decode(section.data)) as { routes: { router: number; entries: number[][] }[] };
    // Drop the last entry of the first routing table that has one: some emitter's packets no longer reach a target.
    const table = json.routes.find((t) => t.entries.length > 0)!;
    table.entries.pop();
    const bad = join(dir, "bad-routes.nmb");
    writeBundle(bad, {
      modelName: b.manifest.modelName, modelSource: b.manifest.modelSource, target: b.manifest.target, hardwareJson: b.manifest.hardwareJson,
      cores: b.manifest.cores, meta: b.manifest.meta,
      sections: [...b.sections.values()].map((s) => (s.name === MAPPING_SECTION ? { ...s, data: new TextEncoder().encode(JSON.stringify(json)) } : s)),
    });
    for (const args of [["run", bad, "--input", X], ["verify", bad, "--input", X], ["inspect", bad]]) {
      const r = await runNmcAsync(args);
      expect(r.code, `${args.join(" ")}\n${show(r)}`).toBe(2);
      expect(r.stderr).toContain(MAPPING_SECTION);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // one paragraph, no stack
    }
    // The golden engine runs the bundle's IR and needs no mapping.
    const g = await runNmcAsync(["run", bad, "--input", X, "--engine", "golden", "--json"]);
    expect(g.code, show(g)).toBe(0);
  });
});

describe("targets come from the registry", () => {
  it("compile --target, run --engine and verify --against list the registered targets", async () => {
    const [c, r, v] = await Promise.all([runNmcAsync(["compile", "--help"]), runNmcAsync(["run", "--help"]), runNmcAsync(["verify", "--help"])]);
    for (const name of targetNames()) {
      expect(c.stdout).toContain(`"${name}"`);
      expect(r.stdout).toContain(`"${name}"`);
    }
    expect(r.stdout).toContain('"float"');
    expect(v.stdout).toMatch(/choices: "(golden|cuda)", "(golden|cuda)", "float"/);
  });

  it("an option of one target is refused with another (exit 2), not dropped", async () => {
    const r = await runNmcAsync(["compile", MODEL, "--target", "cuda", "--hw", "x.json", "-o", join(dir, "c.nmb")]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toMatch(/--hw does not apply to --target cuda/);
  });

  it("--precision is refused on an engine that does not take it (exit 2)", async () => {
    const r = await runNmcAsync(["run", bundle, "--input", X, "--precision", "float"]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toMatch(/--precision float applies to the cuda engine/);
  });
});
