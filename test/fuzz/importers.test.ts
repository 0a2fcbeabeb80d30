// Fuzz: the importers' key layouts and configs (the byte-level readers are fuzzed in safetensors.test.ts and
// npy.test.ts). FUZZ_RUNS / 8 cases per property:
//  1. `nmc import event-ssm` parameters (compiler/import/event-ssm.ts importEventSsm): tensors of the model
//     fixtures dropped, renamed, reshaped, given a NaN / Infinity / huge value, duplicated under a new key.
//     Oracle: an NmcError, or a model that loads and runs; a non-finite or dropped used tensor is never
//     accepted.
//  2. its YAML config (compiler/import/event-ssm-config.ts parseEventSsmConfig): structural mutations of the
//     fixtures' configs (deleted keys, wrong types, unknown keys, NaN literals) written as YAML-compatible JSON,
//     then imported with the matching parameters. Oracle: an NmcError or an importable model.
//  3. `nmc import evnn` key layouts (compiler/import/evnn.ts importEvnn) on the EvNN fixtures: keys dropped,
//     renamed (layer indices too), reshaped, NaN'd, unknown keys added. Oracle: an NmcError; a model with
//     finite weights that loads otherwise.
//  4. a few of each through the built CLI: exit 2 (never 3), within a timeout.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { type Checkpoint, type CheckpointTensor, readCheckpoint } from "../../compiler/import/checkpoint.js";
import { parseEventSsmConfig, readEventSsmConfig } from "../../compiler/import/event-ssm-config.js";
import { importEventSsm } from "../../compiler/import/event-ssm.js";
import { importEvnn } from "../../compiler/import/evnn.js";
import { writeLayersModel } from "../../compiler/import/layers-model.js";
import { ndarray } from "../../runtime/io/ndarray.js";
import { type CliResult, ensureBuilt, repoRoot, runNmcAsync } from "../support/cli.js";
import { FIXTURES, paramsNpz, writeNpz } from "../support/event-ssm.js";
import { FUZZ_RUNS, FUZZ_TEST_TIMEOUT_MS, FuzzBug, attemptClean, fuzzParams, jsonOpsArb, mutateJson } from "../support/fuzz.js";

const RUNS = Math.max(1, Math.ceil(FUZZ_RUNS / 8));
const dir = mkdtempSync(join(tmpdir(), "nmc-fuzz-importers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ---- tensor-map mutations, shared by event-ssm and evnn ----

type TensorOp =
  | { op: "drop"; pick: number }
  | { op: "rename"; pick: number; to: string }
  | { op: "reshape"; pick: number; how: "transpose" | "flatten" | "addAxis" | "shrink" | "grow" }
  | { op: "poison"; pick: number; at: number; value: number }
  | { op: "extra"; pick: number; suffix: string };

const tensorOpArb: fc.Arbitrary<TensorOp> = fc.oneof(
  fc.record({ op: fc.constant("drop" as const), pick: fc.nat() }),
  fc.record({ op: fc.constant("rename" as const), pick: fc.nat(), to: fc.constantFrom("x", "params/x", "rnn.rnns.7.kernel", "rnns.01.kernel", "rnn.rnns.0.rnn.kernel", "__proto__", "toString", "params/encoder/encoder/embedding", "") }),
  fc.record({ op: fc.constant("reshape" as const), pick: fc.nat(), how: fc.constantFrom("transpose" as const, "flatten" as const, "addAxis" as const, "shrink" as const, "grow" as const) }),
  fc.record({ op: fc.constant("poison" as const), pick: fc.nat(), at: fc.nat(), value: fc.constantFrom(Number.NaN, Infinity, -Infinity, 1e39) }),
  fc.record({ op: fc.constant("extra" as const), pick: fc.nat(), suffix: fc.constantFrom("_copy", ".extra", "/extra", "2") }),
);
const tensorOpsArb = fc.array(tensorOpArb, { minLength: 1, maxLength: 3 });

interface Mutated<T> { tensors: Map<string, T>; dropped: string[]; poisoned: string[]; log: string[] }

function mutateTensors<T extends { key: string; shape: number[]; values: Float32Array | Float64Array }>(base: Map<string, T>, ops: TensorOp[]): Mutated<T> {
  const m = new Map(base);
  const out: Mutated<T> = { tensors: m, dropped: [], poisoned: [], log: [] };
  for (const o of ops) {
    const keys = [...m.keys()];
    if (!keys.length) break;
    const k = keys[o.pick % keys.length]!;
    const t = m.get(k)!;
    switch (o.op) {
      case "drop": m.delete(k); out.dropped.push(k); break;
      case "rename": m.delete(k); m.set(o.to, { ...t, key: o.to }); out.dropped.push(k); break;
      case "extra": m.set(k + o.suffix, { ...t, key: k + o.suffix }); break;
      case "poison": {
        if (!t.values.length) break;
        const v = t.values.slice();
        v[o.at % v.length] = o.value;
        m.set(k, { ...t, values: v });
        out.poisoned.push(k);
        break;
      }
      case "reshape": {
        const s = t.shape, n = t.values.length;
        let shape = s, values = t.values;
        if (o.how === "transpose" && s.length === 2) shape = [s[1]!, s[0]!];
        else if (o.how === "flatten") shape = [n];
        else if (o.how === "addAxis") shape = [1, ...s];
        else if (o.how === "shrink" && n > 1) { values = t.values.slice(0, n - 1); shape = [n - 1]; }
        else if (o.how === "grow") { values = new (t.values.constructor as Float64ArrayConstructor)(n + 1); values.set(t.values); shape = s.length ? [...s.slice(0, -1), s[s.length - 1]! + 1 / (s.slice(0, -1).reduce((a, b) => a * b, 1) || 1)] : [n + 1]; if (!shape.every(Number.isInteger)) shape = [n + 1]; }
        m.set(k, { ...t, shape, values });
        break;
      }
    }
    out.log.push(`${o.op} ${k}`);
  }
  return out;
}

// ---- event-ssm ----

const ES_SEEDS = ["model_pool", "model_last", "model_pool_batchnorm"].map((name) => {
  const params = paramsNpz(name, join(dir, "seed"));
  return { name, tensors: readCheckpoint(params).tensors, cfgText: readFileSync(join(FIXTURES, `${name}.yaml`), "utf8") };
});

/** Imports and, when that works, writes and loads the model: NmcError or success, nothing else. */
function importAndLoad(name: string, f: () => ReturnType<typeof importEventSsm>) {
  const r = attemptClean(`import event-ssm (${name})`, () => {
    const imp = f();
    const out = join(dir, "es-out");
    return loadModel(writeLayersModel(out, imp.model).model).graph;
  });
  return r;
}

describe("fuzz: nmc import event-ssm (parameters and config)", () => {
  it(`parameter tensors dropped / renamed / reshaped / poisoned (${RUNS} cases)`, () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(fc.nat({ max: ES_SEEDS.length - 1 }), tensorOpsArb, (i, ops) => {
        const s = ES_SEEDS[i]!;
        const m = mutateTensors(s.tensors, ops);
        const cfg = parseEventSsmConfig(s.cfgText, "c.yaml");
        const r = importAndLoad(s.name, () => importEventSsm("p.npz", m.tensors, cfg));
        seen[r.ok ? "accepted" : "refused"]++;
        if (!r.ok && !r.known && r.error.file !== "p.npz") throw new FuzzBug(`NmcError without the params file: ${r.error.format()}`);
        if (r.ok && m.poisoned.some((k) => m.tensors.has(k))) throw new FuzzBug(`accepted a non-finite parameter (${m.log.join("; ")})`);
        // A dropped key is a missing parameter only if the model had it (dropping an added copy removes nothing it needs).
        if (r.ok && m.dropped.some((k) => k.startsWith("params/") && s.tensors.has(k) && !m.tensors.has(k))) throw new FuzzBug(`accepted a missing parameter (${m.log.join("; ")})`);
      }),
      fuzzParams(RUNS),
    );
    expect(seen.refused).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it(`config: deleted keys, wrong types, unknown keys (${RUNS} cases)`, () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(fc.nat({ max: ES_SEEDS.length - 1 }), jsonOpsArb, (i, ops) => {
        const s = ES_SEEDS[i]!;
        const text = mutateJson(parseYaml(s.cfgText), ops).text; // JSON is YAML
        const r = importAndLoad(s.name, () => importEventSsm("p.npz", s.tensors, parseEventSsmConfig(text, "c.yaml")));
        seen[r.ok ? "accepted" : "refused"]++;
      }),
      fuzzParams(RUNS),
    );
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.accepted).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it(`config: YAML text line mutations (${RUNS} cases)`, () => {
    const lineOp = fc.record({ pick: fc.nat(), op: fc.constantFrom("delete", "dup", "unknown", "value", "indent"), value: fc.constantFrom("", "~", "[1, 2]", "{a: 1}", "-1", "0", "1.5", ".nan", ".inf", "yes", "'2'", "async", "maxpool", "1e999", "&a x", "*a") });
    fc.assert(
      fc.property(fc.nat({ max: ES_SEEDS.length - 1 }), fc.array(lineOp, { minLength: 1, maxLength: 3 }), (i, ops) => {
        const s = ES_SEEDS[i]!;
        const lines = s.cfgText.split("\n");
        for (const o of ops) {
          const j = o.pick % lines.length, l = lines[j]!;
          if (o.op === "delete") lines.splice(j, 1);
          else if (o.op === "dup") lines.splice(j, 0, l);
          else if (o.op === "unknown") lines.splice(j, 0, `${l.match(/^\s*/)![0]}nmc_fuzz_key: 1`);
          else if (o.op === "value") lines[j] = l.replace(/:.*$/, `: ${o.value}`);
          else lines[j] = ` ${l}`;
        }
        importAndLoad(s.name, () => importEventSsm("p.npz", s.tensors, parseEventSsmConfig(lines.join("\n"), "c.yaml")));
      }),
      fuzzParams(RUNS),
    );
  }, FUZZ_TEST_TIMEOUT_MS);
});

// ---- evnn ----

const EVNN_FIX = join(repoRoot, "test", "fixtures", "evnn");
const EV_SEEDS: Checkpoint[] = ["smnist-2layer-wrapped-f16", "lm-2layer-projection-bf16-zoneout", "lm-3layer-tied", "smnist-1layer"].map((n) => readCheckpoint(join(EVNN_FIX, n, "ckpt.safetensors")));

describe("fuzz: nmc import evnn key layouts", () => {
  it(`keys dropped / renamed / reshaped / poisoned / added (${RUNS} cases)`, () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(fc.nat({ max: EV_SEEDS.length - 1 }), tensorOpsArb, fc.constantFrom(undefined, 0.2), (i, ops, zoneout) => {
        const base = EV_SEEDS[i]!;
        const m = mutateTensors<CheckpointTensor>(base.tensors, ops);
        const ckpt: Checkpoint = { ...base, tensors: m.tensors };
        const r = attemptClean("import evnn", () => {
          const imp = importEvnn(ckpt, { zoneout });
          const w = new Float32Array(imp.model.bin.buffer.slice(0));
          if (!w.every(Number.isFinite)) throw new FuzzBug("an imported model holds a non-finite weight");
          const g = loadModel(writeLayersModel(join(dir, "ev-out"), imp.model).model).graph;
          return { imp, g };
        });
        seen[r.ok ? "accepted" : "refused"]++;
        if (r.ok) {
          const ignored = new Set(r.value.imp.ignored);
          const usedPoison = m.poisoned.filter((k) => m.tensors.has(k) && !ignored.has(k));
          if (usedPoison.length) throw new FuzzBug(`accepted a non-finite used tensor ${usedPoison} (${m.log.join("; ")})`);
        }
      }),
      fuzzParams(RUNS),
    );
    expect(seen.refused).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);
});

// ---- CLI: exit 2, never 3 ----

function expectExit2(r: CliResult, what: string): void {
  const ctx = `${what}\nexit ${r.code}\nstderr:\n${r.stderr}`;
  expect(r.code, ctx).toBe(2);
  expect(/\n\s+at .+:\d+:\d+/.test(r.stderr), `stack trace in stderr: ${ctx}`).toBe(false);
}

describe("fuzz smoke: mutated importer inputs through the CLI exit 2", () => {
  beforeAll(async () => {
    await ensureBuilt();
  }, 300_000);

  it("nmc import event-ssm with broken parameters and configs", async () => {
    const d = join(dir, "cli");
    mkdirSync(d, { recursive: true });
    const s = ES_SEEDS[0]!;
    const good = paramsNpz(s.name, d);
    const goodCfg = join(FIXTURES, `${s.name}.yaml`);
    const members = [...s.tensors.values()].map((t) => [t.key, ndarray(t.values instanceof Float64Array ? "f8" : "f4", t.shape, t.values)] as [string, ReturnType<typeof ndarray>]);
    const embed = members.findIndex(([k]) => k.endsWith("embedding"));
    const nanned = members.map(([k, a], j) => [k, j === embed ? ndarray("f4", a.shape, Float32Array.from(a.data as Float32Array, (x, q) => (q === 0 ? NaN : x))) : a] as [string, typeof a]);
    const cases: [string, string, string][] = [
      ["dropped tensor", writeNpz(join(d, "drop.npz"), members.slice(1)), goodCfg],
      ["NaN tensor", writeNpz(join(d, "nan.npz"), nanned), goodCfg],
      ["renamed tensor", writeNpz(join(d, "ren.npz"), members.map(([k, a], j) => [j === 0 ? `${k}_x` : k, a])), goodCfg],
      ["unknown config key", good, (writeFileSync(join(d, "u.yaml"), readFileSync(goodCfg, "utf8").replace("ssm:\n", "ssm:\n    nmc_fuzz: 1\n")), join(d, "u.yaml"))],
      ["bad discretization", good, (writeFileSync(join(d, "b.yaml"), readFileSync(goodCfg, "utf8").replace("discretization: async", "discretization: bilinear")), join(d, "b.yaml"))],
      ["stride as a string", good, (writeFileSync(join(d, "s.yaml"), readFileSync(goodCfg, "utf8").replace("pooling_stride: 2", "pooling_stride: two")), join(d, "s.yaml"))],
    ];
    for (const [what, params, cfg] of cases) expectExit2(await runNmcAsync(["import", "event-ssm", params, "--config", cfg, "-o", join(d, "out")], { timeoutMs: 60_000 }), what);
    // The valid pair still imports (so the cases above fail for their mutation).
    expect(readEventSsmConfig(goodCfg).dModel).toBeGreaterThan(0);
  }, 180_000);

  it("nmc import evnn with a broken key layout", async () => {
    const d = join(dir, "cli-evnn");
    mkdirSync(d, { recursive: true });
    const base = EV_SEEDS[3]!;
    const arrays = [...base.tensors.values()].map((t) => [t.key, ndarray(t.values instanceof Float64Array ? "f8" : "f4", t.shape, t.values)] as [string, ReturnType<typeof ndarray>]);
    const cases: [string, [string, ReturnType<typeof ndarray>][]][] = [
      ["missing hidden2out.weight", arrays.filter(([k]) => k !== "hidden2out.weight")],
      ["layer 0 renamed to layer 1", arrays.map(([k, a]) => [k.replace("rnns.0.", "rnns.1."), a])],
      ["transposed kernel", arrays.map(([k, a]) => [k, k.endsWith(".kernel") ? ndarray(a.dtype, [a.shape[1]!, a.shape[0]!], a.data) : a])],
    ];
    for (const [what, members] of cases) {
      const p = writeNpz(join(d, `${what.replace(/\W+/g, "_")}.npz`), members);
      expectExit2(await runNmcAsync(["import", "evnn", p, "-o", join(d, "out")]), what);
    }
  }, 180_000);
});

describe("fuzz findings (pinned)", () => {
  // Regression (was a bug, found by "config: YAML text line mutations"): parseEventSsmConfig called
  // doc.toJS() unguarded; an alias whose anchor is not set (`d_model: *a`) made the yaml library throw
  // ReferenceError "Unresolved alias" (exit 3, internal error). Now an NmcError naming the config file.
  it("a YAML alias without its anchor is refused with an NmcError (regression: ReferenceError)", () => {
    const text = readFileSync(join(FIXTURES, "model_pool.yaml"), "utf8").replace("d_model: 8", "d_model: *a");
    const r = attemptClean("parseEventSsmConfig", () => parseEventSsmConfig(text, "c.yaml"));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.file).toBe("c.yaml");
  });
  it("a YAML alias bomb is refused with an NmcError, quickly", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(", ")}]`)].join("\n");
    const r = attemptClean("parseEventSsmConfig", () => parseEventSsmConfig(bomb, "c.yaml"));
    expect(r.ok).toBe(false);
  });
  // Regression (was a bug, found by "config: deleted keys, wrong types, unknown keys" at seed 777): importEventSsm
  // planned every layer (num_stages × num_layers_per_stage entries) before reading any parameter, so a config
  // claiming 10^12 stages ran the process out of memory. The plan is now made a layer at a time, and the first
  // stage the parameters lack is named.
  it("a config claiming 10^12 stages is refused naming the first missing stage (regression: out of memory)", () => {
    const s = ES_SEEDS[0]!;
    const text = s.cfgText.replace(/num_stages: \d+/, "num_stages: 1000000000000");
    expect(text).not.toBe(s.cfgText);
    const r = attemptClean("import event-ssm", () => importEventSsm("p.npz", s.tensors, parseEventSsmConfig(text, "c.yaml")));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.format()).toMatch(/stages_\d+/);
  });
});
