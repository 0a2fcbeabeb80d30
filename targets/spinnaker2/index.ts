// The spinnaker2 target: partition → place → route the quantized IR onto a SpiNNaker 2-style machine,
// store the mapping in the bundle (mapping.ts: the bundle holds the lowered mapping, and loading decodes and
// verifies it rather than recomputing it), and run it on the bundled simulator with its cycle and energy
// model (report.ts prices a run).
import type { Graph } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import type { Mapping } from "./mapping.js";
import { type RunOptions, type SimOptions, type SimRun, Simulator } from "./sim/simulator.js";

export type { Execution, RunOptions, SimRun } from "./sim/simulator.js";
export { SPINNAKER2, parseHardware, levelOf, type HardwareDescription } from "./chip.js";
export {
  loadMapping, mapGraph, MAPPING_FORMAT, MAPPING_SECTION, MAPPING_VERSION, MAPPING_VERSION_ACCEL, MAPPING_VERSION_REDUCTIONS, type Mapping, mappingFromSection, mappingSection, recheckMapping,
} from "./mapping.js";
export { locationName } from "./place.js";
export { type ModeFigures, report, type RunReport } from "./report.js";

/**
 * Runs a batch on the simulator. `execution` chooses how it runs, not what it reports: "event" (default:
 * only events travel, only stored weights are read) or "dense" (every unit sends its value every tick and
 * every PE visits every weight of its dense matrix, zeros included: `nmc run --mode dense`). Outputs, events
 * and every charged figure (cycles and energy of the event, dense, activity-only and weight-only modes) are
 * the same either way; only the wall time differs. `kernels` chooses the accumulation kernels (runtime/wasm; the
 * same results either way).
 */
export function simulate(g: Graph, m: Mapping, batch: SequenceBatch, opts: RunOptions & Pick<SimOptions, "kernels"> = {}): SimRun {
  const sim = new Simulator(g, m.partition, m.placement, m.routing, m.hw, { kernels: opts.kernels });
  try {
    return sim.run(batch, opts);
  } finally {
    sim.dispose();
  }
}

/** Which accumulation kernels a simulator of this mapping runs (SimOptions.kernels: "wasm" or "js"). */
export function simulatorKernels(g: Graph, m: Mapping, kernels?: SimOptions["kernels"]): "wasm" | "js" {
  const sim = new Simulator(g, m.partition, m.placement, m.routing, m.hw, { kernels });
  sim.dispose();
  return sim.kernels;
}
