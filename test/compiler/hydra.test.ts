// Hydra's defaults-list composition for `nmc import event-ssm --config` (compiler/import/hydra.ts): config trees
// laid out as event-ssm's configs/ directory is (a base.yaml listing system, task and logging; task configs naming
// an absolute /model: group/option; `# @package _global_` headers), with values of our own.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { composeHydra } from "../../compiler/import/hydra.js";
import { readEventSsmConfig } from "../../compiler/import/event-ssm-config.js";
import { NmcError } from "../../ir/errors.js";
import { fuzzParams } from "../support/fuzz.js";

const root = mkdtempSync(join(tmpdir(), "nmc-hydra-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** Writes a config tree (path → text) into a fresh directory; returns it. */
function tree(files: Record<string, string>): string {
  const dir = join(root, `t${n++}`);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

const MODEL = (d: number, mode = "timepool") => `# @package _global_
model:
  ssm_init:
    C_init: lecun_normal
    dt_min: 0.002
    dt_max: 0.2
    conj_sym: true
    clip_eigs: false
  ssm:
    discretization: async
    d_model: ${d}
    d_ssm: 8
    ssm_block_size: 4
    num_stages: 2
    num_layers_per_stage: 1
    dropout: 0.1
    classification_mode: ${mode}
    prenorm: true
    batchnorm: false
    pooling_stride: 4
    pooling_mode: avgpool
`;

const LAYOUT = {
  "base.yaml": "defaults:\n  - _self_\n  - system: here\n  - task: words\n  - logging: quiet\n\nseed: 3\ncheckpoint: null\n",
  "system/here.yaml": "# @package _global_\ndata_dir: ./d\noutput_dir: ./o\ncheckpoint_dir: ./c\n",
  "logging/quiet.yaml": "interval: 10\nwandb: false\n",
  "task/words.yaml": "# @package _global_\ndefaults:\n  - /model: small/a\n\ntask:\n  name: words\ntraining:\n  num_epochs: 2\n",
  "model/small/a.yaml": MODEL(12),
  "model/small/b.yaml": MODEL(20, "pool"),
};

describe("hydra defaults lists", () => {
  it("composes a base config as hydra does: _self_ first, then system, task (and the model it names), logging", () => {
    const dir = tree(LAYOUT);
    const c = composeHydra(join(dir, "base.yaml"));
    expect(c.files.map((f) => f.slice(dir.length + 1))).toEqual(["base.yaml", "system/here.yaml", "model/small/a.yaml", "task/words.yaml", "logging/quiet.yaml"]);
    expect(c.config.seed).toBe(3);
    expect(c.config.data_dir).toBe("./d"); // @package _global_
    expect(c.config.logging).toEqual({ interval: 10, wandb: false }); // no header: under the group's key
    expect((c.config.model as any).ssm.d_model).toBe(12);
    expect(c.config.defaults).toBeUndefined();
    const cfg = readEventSsmConfig(join(dir, "base.yaml"));
    expect([cfg.dModel, cfg.dSsm, cfg.numStages, cfg.classificationMode, cfg.poolingMode, cfg.conjSym]).toEqual([12, 8, 2, "timepool", "avgpool", true]);
    expect(cfg.composedFrom).toHaveLength(5);
    // The same settings read from the model file alone.
    const direct = readEventSsmConfig(join(dir, "model/small/a.yaml"));
    expect({ ...cfg, file: "", ignored: [], composedFrom: undefined }).toEqual({ ...direct, file: "", ignored: [], composedFrom: undefined });
  });

  it("a task config given directly finds /model from the ancestor that holds the group", () => {
    const dir = tree(LAYOUT);
    const cfg = readEventSsmConfig(join(dir, "task/words.yaml"));
    expect(cfg.dModel).toBe(12);
    expect(cfg.composedFrom!.map((f) => f.slice(dir.length + 1))).toEqual(["model/small/a.yaml", "task/words.yaml"]);
  });

  it("override in the primary config replaces the group's option wherever it is listed", () => {
    const dir = tree({ ...LAYOUT, "run.yaml": "defaults:\n  - task: words\n  - override /model: small/b\n" });
    const cfg = readEventSsmConfig(join(dir, "run.yaml"));
    expect([cfg.dModel, cfg.classificationMode]).toEqual([20, "pool"]);
  });

  it("the file's own content merges where _self_ stands (absent: after its defaults)", () => {
    const own = "model:\n  ssm:\n    d_model: 7\n";
    const last = tree({ ...LAYOUT, "p.yaml": `defaults:\n  - /model: small/a\n${own}` });
    const first = tree({ ...LAYOUT, "p.yaml": `defaults:\n  - _self_\n  - /model: small/a\n${own}` });
    expect(readEventSsmConfig(join(last, "p.yaml")).dModel).toBe(7);
    expect(readEventSsmConfig(join(first, "p.yaml")).dModel).toBe(12);
  });

  it("optional entries whose file is missing are skipped; null options list nothing", () => {
    const dir = tree({ ...LAYOUT, "p.yaml": "defaults:\n  - optional extra: none\n  - logging: null\n  - /model: small/a\n" });
    const c = composeHydra(join(dir, "p.yaml"));
    expect(c.files.map((f) => f.slice(dir.length + 1))).toEqual(["model/small/a.yaml", "p.yaml"]);
  });

  it("refuses, naming the file and the entry: a missing config, a package retarget, a non-list, a cycle", () => {
    const cases: [Record<string, string>, RegExp, string][] = [
      [{ ...LAYOUT, "p.yaml": "defaults:\n  - /model: small/zzz\n" }, /defaults\[0\].*cannot be read/, "p.yaml"],
      [{ ...LAYOUT, "p.yaml": "defaults:\n  - /model@net: small/a\n" }, /package retarget/, "p.yaml"],
      [{ ...LAYOUT, "p.yaml": "defaults: model\n" }, /defaults must be a list/, "p.yaml"],
      [{ ...LAYOUT, "p.yaml": "defaults:\n  - /model: [small/a, small/b]\n" }, /an option must be a name/, "p.yaml"],
      [{ "p.yaml": "defaults:\n  - q\n", "q.yaml": "defaults:\n  - p\n" }, /nest more than 32/, ""],
      [{ ...LAYOUT, "p.yaml": "# @package foo.bar\nmodel: {}\n", "r.yaml": "defaults:\n  - p\n" }, /@package foo.bar/, "p.yaml"],
    ];
    for (const [files, message, file] of cases) {
      const dir = tree(files);
      const primary = files["r.yaml"] ? "r.yaml" : "p.yaml";
      let err: unknown;
      try {
        readEventSsmConfig(join(dir, primary));
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(files)).toBeInstanceOf(NmcError);
      expect((err as NmcError).format()).toMatch(message);
      if (file) expect((err as NmcError).file).toBe(join(dir, file));
    }
  });

  it("any split of the model's settings between the model file and the primary config composes to the same settings", () => {
    const keys = ["d_model", "d_ssm", "num_stages", "pooling_stride"] as const;
    fc.assert(fc.property(fc.array(fc.boolean(), { minLength: keys.length, maxLength: keys.length }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: keys.length, maxLength: keys.length }), fc.boolean(), (inPrimary, values, selfFirst) => {
      // Settings moved to the primary config take their value from there (it merges last unless _self_ comes first,
      // in which case the model file's value stands).
      const own = keys.flatMap((k, i) => (inPrimary[i] ? [`    ${k}: ${values[i]}`] : []));
      const primary = `defaults:\n${selfFirst ? "  - _self_\n" : ""}  - /model: small/a\n${own.length ? `model:\n  ssm:\n${own.join("\n")}\n` : ""}`;
      const dir = tree({ "model/small/a.yaml": MODEL(5), "p.yaml": primary });
      const cfg = readEventSsmConfig(join(dir, "p.yaml"));
      const base = { d_model: 5, d_ssm: 8, num_stages: 2, pooling_stride: 4 };
      const got = { d_model: cfg.dModel, d_ssm: cfg.dSsm, num_stages: cfg.numStages, pooling_stride: cfg.poolingStride };
      const want = Object.fromEntries(keys.map((k, i) => [k, inPrimary[i] && !selfFirst ? values[i] : base[k]]));
      expect(got).toEqual(want);
    }), fuzzParams(40));
  });
});
