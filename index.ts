// nmc's public API: the one module a program (and the repository's own examples and benchmarks) imports.
// package.json "exports" points here; everything else in the package is internal and may move. The
// architecture test (test/architecture.test.ts) holds examples/ and bench/ to this module.
//
// The path of a model, as the CLI runs it:
//   loadModel (model.json → float IR) → compileQuantized (prune → calibrate → quantize)
//   → compileToBundle (the same, plus a target's lowering and the bundle file) → readBundle / bundleGraph
//   → prepareJob / runBatch (any engine: float, golden, spinnaker2, cuda; worker threads) or the engines themselves.

// ── The IR and its files ────────────────────────────────────────────────────────────────────────────────
export type {
  Activation, CsrWeights, FixedFormat, Graph, Lut, Population, PopulationKind, Projection, QuantInfo, ReadoutMode, SourceLoc, Tensor, TensorData,
} from "./ir/types.js";
export { POPULATION_KINDS } from "./ir/types.js";
export { csrFromDense, csrToDense, GraphBuilder, nnz, tensor } from "./ir/builder.js";
export { assertValidGraph } from "./ir/verify.js";
export { printGraph } from "./ir/print.js";
export { decodeGraph, encodeGraph } from "./ir/codec.js";
export {
  type Bundle, type BundleSection, bundleGraph, FLOAT_IR_SECTION, IR_SECTION, IR_SECTION_KIND, readBundle, writeBundle,
} from "./ir/bundle.js";
export { NmcError } from "./ir/errors.js";
export { readJsonFile, writeFileAtomic } from "./ir/files.js";

// ── Running: batches, engines, counters, metrics, input and output files ────────────────────────────────
export { batchFromShape, type SequenceBatch, sliceBatch } from "./runtime/batch.js";
export { FloatEngine, type FloatRun, runFloat } from "./runtime/float/interpreter.js";
export { GoldenEngine, type GoldenRun, quantizeInputs, runGolden } from "./runtime/golden/interpreter.js";
// The pieces of the quantized arithmetic's definition a reimplementation reads (bench/c/tick.cpp does): each kind's
// table row (its ports' bias tensors, the population a Readout reads) and a lookup table's index constants.
export { irKindOf } from "./ir/kinds.js";
export { lutInvStep, lutOrigin } from "./runtime/fixed/index.js";
export { accumulationForm, type AccumulationForm } from "./runtime/golden/accumulation.js";
export {
  SATURATION_SITES, type SaturationCounts, type SaturationEntry, saturationEntries, saturationLines,
} from "./runtime/golden/saturation.js";
export { type RunCounters, summarize } from "./runtime/counters.js";
export { seededRandom } from "./runtime/random.js";
export { argmaxRows, countEqual } from "./runtime/metrics.js";
export { ndarray, type NdArray, toFloat64 } from "./runtime/io/ndarray.js";
export { readNpy, writeNpy, writeNpz } from "./runtime/io/npy.js";
export { readNpz } from "./runtime/io/npz.js";
export { INPUT_FORMATS_HELP, type ModelInput, readInput } from "./runtime/io/inputs.js";

// ── Training and the float reference in TensorFlow.js (the EGRU and DiagonalSSM layer classes) ──────────
export {
  type DiagonalSsmLayer, egruForward, type EgruLayer, initBestBackend, loadFloatModel, type NmcLayerClasses, predictFloat, predictFloatWithShape,
  registerNmcLayers, saveModelToDir, type Tf, untransposedMatMul,
} from "./runtime/tfjs/index.js";

// ── Compiling ────────────────────────────────────────────────────────────────────────────────────────────
export { loadModel } from "./compiler/frontend/index.js";
export {
  type CalibrationData, type CompileOptions, type CompileReport, type CompileResult, compileQuantized, PIPELINE_PASSES, syntheticCalibration,
} from "./compiler/pipeline.js";
export { compileToBundle, type CompileBundleOptions, type CompiledBundle, type CompileStageSeconds, REPORT_SECTION } from "./targets/compile.js";
export {
  cosineRate, type EngineFigures, type EpochRow, type Evaluation, fakeQuantize, isMaskStep, magnitudeMasks, measureWithNmc, type NmcFigures, projectionSparsity,
  type PruneSchedule, sparsityAt, splitIndices, type TuneData, tuneModel, type TuneOptions, type TuneReport, type TuneResult, type WeightSparsity, writeTunedModel,
} from "./compiler/tune/index.js";

// ── Importing foreign checkpoints: event-ssm (Flax) models, as `nmc import event-ssm` does ──────────────
export { type EventSsmConfig, parseEventSsmConfig, readEventSsmConfig } from "./compiler/import/event-ssm-config.js";
export { EVENT_SSM_COMMIT, type EventSsmImport, importEventSsm } from "./compiler/import/event-ssm.js";
export { readCheckpoint } from "./compiler/import/checkpoint.js";
export { writeLayersModel } from "./compiler/import/layers-model.js";

// ── Targets (one registry) and the run dispatcher ───────────────────────────────────────────────────────
export type { LoadedBundle, Lowered, Runner, Target, TargetOption, TargetReport } from "./targets/target.js";
export { findTarget, getTarget, TARGETS, targetNames } from "./targets/registry.js";
export { engineNames, type JobSpec, prepareJob, type PreparedJob, runBatch } from "./targets/run/job.js";
export { mergeResults, type RawResult } from "./targets/run/result.js";
export { availableCores, splitRange } from "./targets/run/shard.js";
export { type PipelineOptions, simulatePipelined, type WorkerTimes } from "./targets/run/pipeline.js";
export { PipelinePool } from "./targets/run/pipeline-pool.js";
export { planPipeline, type PipelineSplit } from "./targets/spinnaker2/sim/pipeline.js";

// ── The spinnaker2 target's own API (mapping, simulator, report), for studies beyond `nmc run` ──────────
export {
  type HardwareDescription, type Mapping, mapGraph, mappingSection, report as spinnaker2Report, type RunReport, simulate, simulatorKernels, type SimRun, SPINNAKER2,
} from "./targets/spinnaker2/index.js";
export { type KernelChoice, kernelModule } from "./runtime/wasm/index.js";
export { loadMapping } from "./targets/spinnaker2/mapping.js";
export type { Partition, Slice } from "./targets/spinnaker2/partition.js";
export { emitCuda, runCuda } from "./targets/cuda/index.js";
