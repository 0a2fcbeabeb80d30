// Copies the non-TypeScript files the compiled code loads at run time (the IR schema) into dist/.
import { cpSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

const assets = ["ir/nmc.proto", "ir/bundle.proto"];
for (const a of assets) {
  mkdirSync(dirname(`dist/${a}`), { recursive: true });
  cpSync(a, `dist/${a}`);
}
