import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Forks keep tfjs/wasm state per file. Vitest's default is one fork fewer than the cores: a single fork on
    // CI's two cores, which ran the suite one file at a time (701 s); one fork per core ran it in 449 s. Files
    // that share a resource take care of it themselves (test/support/cli.ts ensureBuilt: a lock).
    pool: "forks",
    maxWorkers: availableParallelism(),
    minWorkers: 1,
    setupFiles: ["test/support/setup.ts"],
  },
});
