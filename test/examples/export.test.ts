// The documented Python exporter (examples/export/write_model_json.py) writes files nmc compiles and runs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureBuilt, repoRoot, runNmcAsync } from "../support/cli.js";

const numpy = spawnSync("python3", ["-c", "import numpy"], { encoding: "utf8" }).status === 0;

describe("examples/export/write_model_json.py", () => {
  it.skipIf(!numpy)(`writes a model.json that compiles for spinnaker2 and verifies bit-exact${numpy ? "" : " (skipped: python3 with numpy is not installed)"}`, async () => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), "nmc-export-"));
    try {
      const py = spawnSync("python3", [join(repoRoot, "examples/export/write_model_json.py"), dir], { encoding: "utf8" });
      expect(py.status, py.stderr).toBe(0);
      const c = await runNmcAsync(["compile", join(dir, "model.json"), "--target", "spinnaker2", "-o", join(dir, "m.nmb"), "-q"]);
      expect(c.code, c.stderr).toBe(0);
      expect(c.stderr).not.toMatch(/synthetic/); // it found inputs/calib.npy beside the model
      const v = await runNmcAsync(["verify", join(dir, "m.nmb"), "--input", join(dir, "inputs", "calib.npy")]);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout).toMatch(/^bit-exact/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
