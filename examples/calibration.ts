// Writes each example's calibration inputs: `inputs/calib.npy`, the first CALIB_SAMPLES digits of the
// *training* split (examples/common/mnist.ts, seed 1234), encoded as the example's model takes them.
// `nmc compile` picks the file up by default, so quantization ranges never come from the test inputs.
//   npm run examples:calibration
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { ndarray, writeNpy } from "../index.js";
import { envNumber } from "./common/env.js";
import { loadMnistSplit, SIDE } from "./common/mnist.js";
import { encodeBatch, makeEncoder } from "./ssm-events/encoder.js";

const N = envNumber("CALIB_SAMPLES", 200);
// dist/examples/calibration.js → the source tree's examples/ folder.
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.basename(path.dirname(here)) === "dist" ? path.join(here, "..", "..", "examples") : here;

const { train } = loadMnistSplit(1234);

// egru-smnist: one image row per tick.
const rows = train.images.slice(0, N * SIDE * SIDE);
const egru = path.join(root, "egru-smnist", "inputs", "calib.npy");
writeNpy(egru, ndarray("f4", [N, SIDE, SIDE], rows));

// ssm-events: the same encoder settings the model was trained with (recorded in its model.json).
const meta = JSON.parse(readFileSync(path.join(root, "ssm-events", "model.json"), "utf8")).userDefinedMetadata.encoder;
const enc = makeEncoder({ ticksPerRow: meta.ticks_per_row, threshold: meta.threshold });
const ssm = path.join(root, "ssm-events", "inputs", "calib.npy");
writeNpy(ssm, ndarray("f4", [N, enc.ticks, enc.channels], encodeBatch(enc, train.images, 0, N)));

process.stderr.write(`wrote ${N} training digits to ${path.relative(process.cwd(), egru)} and ${path.relative(process.cwd(), ssm)}\n`);
