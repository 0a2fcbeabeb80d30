// Marks the CLI executable (tsc writes files without the execute bit, and `npx nmc` runs the file
// directly) and copies the non-TypeScript files the compiled code loads at run time (the IR schema, the WebAssembly kernels that scripts/build-wasm.mjs built) into dist/.
import { chmodSync, cpSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

const assets = ["ir/nmc.proto", "ir/bundle.proto", "runtime/wasm/kernels.wasm"];
for (const a of assets) {
  mkdirSync(dirname(`dist/${a}`), { recursive: true });
  cpSync(a, `dist/${a}`);
}

chmodSync("dist/cli/main.js", 0o755);
