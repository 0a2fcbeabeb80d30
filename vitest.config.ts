import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Two cores in CI: forks keep tfjs/wasm state per file; the default pool size follows the cores.
    pool: "forks",
    setupFiles: ["test/support/setup.ts"],
  },
});
