// Compiles nmc's WebAssembly kernels (runtime/wasm/assembly/index.ts and the files it exports, AssemblyScript) into
// runtime/wasm/kernels.wasm, which runtime/wasm/index.ts loads (copy-assets.mjs copies it into dist/). Run by
// `npm run build` before tsc. The module imports its memory (each engine sizes its own) and has no runtime: the
// kernels only read and write that memory.
import asc from "assemblyscript/asc";

const { error, stderr } = await asc.main([
  "runtime/wasm/assembly/index.ts",
  "--outFile", "runtime/wasm/kernels.wasm",
  "-O3", "--noAssert", "--runtime", "stub", "--importMemory", "--noExportMemory",
  "--initialMemory", "0", "--enable", "simd",
]);
if (error) {
  process.stderr.write(`build-wasm: ${error.message}\n${stderr.toString()}\n`);
  process.exit(1);
}
