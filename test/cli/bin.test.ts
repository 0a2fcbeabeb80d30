import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, repoRoot } from "../support/cli.js";

describe("the nmc command as a user starts it", () => {
  beforeAll(async () => {
    await ensureBuilt();
  });

  it("npx nmc --version runs the built CLI (it must be executable)", () => {
    const r = spawnSync("npx", ["--no-install", "nmc", "--version"], { cwd: repoRoot, encoding: "utf8" });
    const version = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
    expect(r.stderr).not.toMatch(/Permission denied/);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });
});
