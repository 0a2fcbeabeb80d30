// Passes are small, named, pure functions (graph, options) → graph with a report, verified after running
// (MLIR / LLVM pass-manager habits; docs/architecture.md).
import type { Graph } from "../../ir/types.js";
import { assertValidGraph } from "../../ir/verify.js";

export interface PassResult<R> {
  graph: Graph;
  report: R;
}

export interface Pass<O, R> {
  name: string;
  run(graph: Graph, options: O): PassResult<R>;
}

/** Runs one pass and verifies its output, naming the pass in any verifier error. */
export function runPass<O, R>(pass: Pass<O, R>, graph: Graph, options: O): PassResult<R> {
  const result = pass.run(graph, options);
  assertValidGraph(result.graph, `IR after pass ${pass.name}`);
  return result;
}
