// Autoregressive generation (`nmc generate`): a host loop around an engine. The prompt's tokens enter one per
// model step (tick); from the last prompt token on, each step's output (a distribution over the vocabulary,
// as logits) gives the next token, by argmax at temperature 0 or by a seeded draw from softmax(logits / T),
// and that token is the input of the next step. The recurrent state stays in the engine between steps:
// targets with a stepping session (LoadedBundle.session: golden and spinnaker2) run exactly one tick per token;
// the others (cuda, the float interpreter) re-run the whole prefix for every new token, O(n²) ticks, which gives
// the same outputs since every run starts from zero state. Either way the last run covers the whole sequence,
// and its figures (activity, and on a target that prices time and energy, latency and energy) are reported.
//
// What generates: a model whose input is an Embedding (token ids) and whose output, every tick, has one value
// per token of the vocabulary that travels in the model's metadata (model.json userDefinedMetadata
// nmc.vocabulary → the IR's and the bundle's Graph.meta.vocabulary). Anything else is refused by name.
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import { seededRandom } from "../../runtime/random.js";
import type { PreparedJob } from "./job.js";
import type { RawResult } from "./result.js";

export interface Vocabulary {
  tokens: string[];
  /** "characters": every token one character, text is their concatenation; "words": tokens joined by spaces. */
  mode: "characters" | "words";
  index: Map<string, number>;
}

/** The model's vocabulary, after checking that it can generate: token input, per-tick output over the vocabulary. */
export function generativeVocabulary(graph: Graph, file: string): Vocabulary {
  const input = graph.populations.find((p) => p.name === graph.inputs[0]);
  if (!input || input.kind !== "Input" || input.encoding !== "tokens") {
    throw new NmcError("nmc generate feeds each chosen token back as the next input, so the model's input must be token ids (an Embedding first layer); this model reads feature vectors", {
      file, expected: "a model whose first layer is an Embedding", found: `input ${input?.name ?? "?"} of ${input?.size ?? "?"} values per tick`,
    });
  }
  const raw = graph.meta.vocabulary;
  if (raw === undefined) {
    throw new NmcError("the model carries no vocabulary, so its token ids cannot be turned into text", {
      file, expected: "userDefinedMetadata.nmc.vocabulary in model.json (one string per token id), compiled into the bundle",
      hint: "add the vocabulary to model.json's userDefinedMetadata.nmc and compile again",
    });
  }
  let tokens: unknown;
  try {
    tokens = JSON.parse(raw);
  } catch {
    tokens = null;
  }
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "string")) {
    throw new NmcError("the model's vocabulary metadata is not a list of strings", { file, path: "meta.vocabulary", found: raw.slice(0, 80) });
  }
  const vocab = tokens as string[];
  if (vocab.length !== input.size) {
    throw new NmcError("the model's vocabulary does not name every token id of its input", { file, path: "meta.vocabulary", expected: `${input.size} tokens`, found: `${vocab.length}` });
  }
  const outName = graph.outputs[0];
  const out = graph.populations.find((p) => p.name === outName);
  if (!out || out.kind === "Readout") {
    throw new NmcError("nmc generate needs a distribution over the vocabulary at every step; this model's output is one value per sequence (a readout)", {
      file, expected: "a per-tick output (no nmc.readout, no --readout)", found: `output ${outName} (${out?.kind ?? "?"})`,
    });
  }
  if (out.size !== vocab.length) {
    throw new NmcError("nmc generate needs the model's output to be a distribution over its input vocabulary", {
      file, expected: `an output of ${vocab.length} values (one per token)`, found: `output ${out.name} of ${out.size} values`,
    });
  }
  const mode = vocab.every((t) => [...t].length === 1) ? "characters" : "words";
  return { tokens: vocab, mode, index: new Map(vocab.map((t, i) => [t, i])) };
}

/** The prompt as token ids: character by character, or word by word (split at whitespace). */
export function tokenize(v: Vocabulary, text: string): number[] {
  const parts = v.mode === "characters" ? [...text] : text.split(/\s+/).filter((w) => w !== "");
  if (parts.length === 0) throw new NmcError("--prompt is empty: generation starts from at least one token", { expected: "a non-empty prompt" });
  return parts.map((p, i) => {
    const id = v.index.get(p);
    if (id === undefined) {
      const shown = v.tokens.length <= 100 ? v.tokens.map((t) => JSON.stringify(t)).join(" ") : `${v.tokens.length} tokens`;
      throw new NmcError(`--prompt has ${v.mode === "characters" ? "a character" : "a word"} the model's vocabulary lacks: ${JSON.stringify(p)} (${v.mode === "characters" ? "character" : "word"} ${i + 1})`, {
        expected: `one of the vocabulary: ${shown}`, found: JSON.stringify(p),
      });
    }
    return id;
  });
}

export function detokenize(v: Vocabulary, ids: readonly number[]): string {
  const parts = ids.map((i) => v.tokens[i]!);
  return v.mode === "characters" ? parts.join("") : parts.join(" ");
}

/** Argmax (lowest index on ties) at temperature 0; else a draw from softmax(logits / T) with one uniform u. */
export function sampleToken(logits: ArrayLike<number>, temperature: number, u: number): number {
  let best = 0;
  for (let k = 1; k < logits.length; k++) if (logits[k]! > logits[best]!) best = k;
  if (temperature === 0) return best;
  const max = logits[best]!;
  let sum = 0;
  for (let k = 0; k < logits.length; k++) sum += Math.exp((logits[k]! - max) / temperature);
  let acc = 0;
  const target = u * sum;
  for (let k = 0; k < logits.length; k++) {
    acc += Math.exp((logits[k]! - max) / temperature);
    if (acc > target) return k;
  }
  return logits.length - 1;
}

export interface GenerateOptions {
  prompt: string;
  /** Tokens to generate (≥ 1). */
  count: number;
  temperature: number;
  seed: number;
  /** The target's run options (spinnaker2: mode). */
  options?: Readonly<Record<string, string | undefined>>;
}

export interface Generated {
  vocabulary: Vocabulary;
  prompt: number[];
  tokens: number[];
  /** The generated text (without the prompt). */
  text: string;
  /** Model steps run for the sequence: prompt length + count − 1 (the last token is not fed back). */
  ticks: number;
  /** One tick per token (a stepping session), or the prefix re-run for every token. */
  stepping: "session" | "prefix re-run";
  /** The run of the whole sequence (the last run), for its figures. */
  result: RawResult;
}

/** Generates `count` tokens after the prompt on the job's engine. */
export function generate(job: PreparedJob, file: string, opts: GenerateOptions): Generated {
  const vocab = generativeVocabulary(job.graph, file);
  const prompt = tokenize(vocab, opts.prompt);
  const P = prompt.length, n = opts.count;
  if (!(Number.isInteger(n) && n >= 1)) throw new NmcError("the number of tokens to generate must be an integer ≥ 1", { found: String(n) });
  const ticks = P + n - 1;
  const rand = seededRandom(opts.seed);
  const logits = new Float64Array(vocab.tokens.length);
  const tokens: number[] = [];
  const options = opts.options ?? {};
  const session = job.loaded?.session?.(ticks, { options });
  let result: RawResult;
  if (session) {
    const scale = 2 ** -session.outFrac;
    session.input.set(prompt);
    for (let t = 0; t < ticks; t++) {
      const q = session.step(t);
      if (t < P - 1) continue;
      for (let k = 0; k < logits.length; k++) logits[k] = q[k]! * scale;
      const next = sampleToken(logits, opts.temperature, rand());
      tokens.push(next);
      if (t + 1 < ticks) session.input[t + 1] = next;
    }
    result = session.finish();
  } else {
    // No stepping session: every new token re-runs the prefix from zero state (the same outputs, O(n²) ticks).
    const seq = new Float64Array(ticks);
    seq.set(prompt);
    let last: RawResult | null = null;
    for (let len = P; tokens.length < n; len++) {
      last = job.run({ data: seq.subarray(0, len), batch: 1, ticks: len, channels: 1 });
      const out = last.kind === "sim" ? last.run.output : last.output;
      logits.set(out.subarray((len - 1) * logits.length, len * logits.length));
      const next = sampleToken(logits, opts.temperature, rand());
      tokens.push(next);
      if (len < ticks) seq[len] = next;
    }
    result = last!;
  }
  return { vocabulary: vocab, prompt, tokens, text: detokenize(vocab, tokens), ticks, stepping: session ? "session" : "prefix re-run", result };
}
