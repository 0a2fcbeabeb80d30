// A PyTorch state_dict saved as .safetensors or .npz, read into named float tensors. PyTorch's own pickles
// (.pt, .pth, torch.save) are refused: unpickling runs code, and nmc has no pickle reader. The error gives the
// one-line conversion.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { NmcError } from "../../ir/errors.js";
import type { NdArray } from "../../runtime/io/ndarray.js";
import { listNpz, memberBytes } from "../../runtime/io/npz.js";
import { parseNpy } from "../../runtime/io/npy.js";
import { parseSafetensors } from "../../runtime/io/safetensors.js";

export interface CheckpointTensor {
  key: string;
  shape: number[];
  /** The dtype in the file: F32, F16, BF16, F64 (safetensors) or f4, f8 (npz). */
  dtype: string;
  /** The values as stored (float32 for F32/F16/BF16/f4, float64 for F64/f8). */
  values: Float32Array | Float64Array;
}

export interface Checkpoint {
  file: string;
  format: "safetensors" | "npz";
  sha256: string;
  /** In file order. */
  tensors: Map<string, CheckpointTensor>;
}

/**
 * The one line that turns a torch.save'd state_dict into safetensors. `.contiguous().clone()` is needed: EvNN's
 * `thr` is a non-contiguous view (a Beta sample), which save_file refuses, and the language model's decoder
 * weight shares the embedding's storage, which save_file refuses too.
 */
export const SAVE_LINE = 'from safetensors.torch import save_file; save_file({k: v.contiguous().clone() for k, v in model.state_dict().items()}, "m.safetensors")';
export const EXPORT_HINT = "convert it in Python: python -c \"import torch; from safetensors.torch import save_file; " +
  "save_file({k: v.contiguous().clone() for k, v in torch.load('CKPT', map_location='cpu').items()}, 'm.safetensors')\" " +
  `(or, next to the model: ${SAVE_LINE})`;

const PICKLE_EXTS = [".pt", ".pth", ".pkl", ".ckpt", ".tar"];

function isZip(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5) && (b[3] === 4 || b[3] === 6);
}

/** A torch.save file: a zip holding `<name>/data.pkl`, or (before PyTorch 1.6) a bare pickle. */
function looksLikeTorch(b: Uint8Array): boolean {
  if (b.length >= 2 && b[0] === 0x80 && b[1]! >= 2 && b[1]! <= 5) return true;
  if (!isZip(b)) return false;
  const text = Buffer.from(b.subarray(0, Math.min(b.length, 4096))).toString("latin1");
  return /data\.pkl/.test(text);
}

function refusePickle(file: string, why: string): never {
  throw new NmcError(`${why}: nmc does not read PyTorch pickles (torch.save), whose loading runs code`, {
    file, expected: "a state_dict saved as .safetensors (or .npz)", found: "a PyTorch pickle", hint: EXPORT_HINT.replace("CKPT", file),
  });
}

function readNpzTensors(bytes: Uint8Array, file: string): Map<string, CheckpointTensor> {
  const out = new Map<string, CheckpointTensor>();
  for (const entry of listNpz(bytes, file)) {
    let a: NdArray;
    try {
      a = parseNpy(memberBytes(bytes, entry, file));
    } catch (e) {
      if (e instanceof NmcError) throw new NmcError(e.message, { ...e.fields(), file, path: `member ${JSON.stringify(entry.name)}${e.path ? `: ${e.path}` : ""}` });
      throw e;
    }
    if (a.dtype !== "f4" && a.dtype !== "f8") {
      throw new NmcError(`tensor ${entry.key} is not float32 or float64`, {
        file, path: `member ${JSON.stringify(entry.name)}`, expected: "float32 or float64 (<f4, <f8)", found: a.dtype,
        hint: "save the state_dict with .float() tensors, or as .safetensors (which also carries float16 and bfloat16)",
      });
    }
    if (out.has(entry.key)) throw new NmcError(`tensor ${entry.key} appears twice in the archive`, { file, path: `member ${JSON.stringify(entry.name)}` });
    out.set(entry.key, { key: entry.key, shape: a.shape, dtype: a.dtype, values: a.data as Float32Array | Float64Array });
  }
  return out;
}

/** Reads a checkpoint: `.safetensors`, `.npz`; by content when the extension says neither. */
export function readCheckpoint(file: string): Checkpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code ?? String(e);
    throw new NmcError(code === "ENOENT" ? "cannot read the checkpoint: no such file" : `cannot read the checkpoint (${code})`, { file });
  }
  return parseCheckpoint(bytes, file);
}

/** A checkpoint's bytes; `file` names it in errors and its extension picks the format. */
export function parseCheckpoint(bytes: Uint8Array, file: string): Checkpoint {
  const ext = extname(file).toLowerCase();
  if (PICKLE_EXTS.includes(ext)) refusePickle(file, `${ext} is a PyTorch checkpoint (torch.save)`);
  if (ext !== ".safetensors" && ext !== ".npz" && looksLikeTorch(bytes)) refusePickle(file, "this is a PyTorch checkpoint (torch.save)");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const asNpz = ext === ".npz" || (ext !== ".safetensors" && isZip(bytes));
  if (asNpz) {
    if (looksLikeTorch(bytes)) refusePickle(file, "this .npz is a PyTorch checkpoint (torch.save) renamed");
    return { file, format: "npz", sha256, tensors: readNpzTensors(bytes, file) };
  }
  if (ext !== ".safetensors" && !(bytes.length > 8 && bytes[8] === 0x7b)) {
    throw new NmcError("unknown checkpoint format", {
      file, expected: "a state_dict as .safetensors or .npz", found: `${ext || "no extension"}, and neither format's signature`, hint: EXPORT_HINT.replace("CKPT", file),
    });
  }
  const st = parseSafetensors(bytes, file);
  const tensors = new Map<string, CheckpointTensor>();
  for (const t of st.tensors.values()) {
    tensors.set(t.name, { key: t.name, shape: t.array.shape, dtype: t.dtype, values: t.array.data as Float32Array | Float64Array });
  }
  return { file, format: "safetensors", sha256, tensors };
}
