// Runs before every test file (vitest.config.ts setupFiles).
import { afterEach } from "vitest";

// A macrotask turn after each test. The fuzz properties are synchronous loops of thousands of cases; vitest's
// worker answers its runner's RPC only between macrotasks, so back-to-back long properties (NMC_FUZZ_RUNS=20000:
// 30–45 s each) added up past its 60 s RPC timeout ("Timeout calling onTaskUpdate") although every test passed.
afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
