// The benchmarks `npm run bench` runs, in order.
import type { Benchmark } from "./lib.js";
import { batch } from "./batch.js";
import { compile } from "./compile.js";
import { eventDense } from "./event-dense.js";
import { pipeline } from "./pipeline.js";
import { sparsity } from "./sparsity.js";
import { throughput } from "./throughput.js";

export const BENCHMARKS: Benchmark[] = [throughput, eventDense, sparsity, compile, batch, pipeline];
