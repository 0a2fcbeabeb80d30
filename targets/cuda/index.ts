// The cuda target: a CUDA reference backend. emitCuda renders quantized IR (int: bit-exact with the golden
// interpreter) or float IR (float: the float interpreter in double) as one self-contained .cu source, which
// builds as real CUDA (nvcc) or as plain C++ in host emulation (-DNMC_EMULATE); packParams writes the
// parameter file it reads; buildCuda compiles (cached); runCuda does all of it for a batch of sequences.
export { CUDA_PRELUDE, cString, emitCuda, type EmitOptions } from "./emit.js";
export {
  type CudaPrecision, fnv1a64, layoutHash, layoutManifest, nodeSymbols, packParams, PARAMS_MAGIC, PARAMS_VERSION, type ParamKind,
  type ParamTensor, paramLayout, sanitizeIdentifier,
} from "./params.js";
export { buildCuda, compilerAvailable, type CudaBuild, type CudaBuildMode, cudaCacheDir, findCompiler, gpuAvailable } from "./build.js";
export { type CudaRun, type CudaRunMode, type CudaRunOptions, runCuda } from "./run.js";
