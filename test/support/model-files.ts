// Writes small model.json + weights.bin directories for frontend tests.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface WeightSpec {
  name: string;
  shape: number[];
  values: number[];
  /** How the weight is stored: float32 (default) or one of tfjs's quantized forms. */
  store?: "float32" | "float16" | "uint8";
}

function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = (x >>> 13) & 0x3ff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | mant;
}

export function writeModel(topology: unknown, weights: WeightSpec[], extra: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "nmc-model-"));
  const chunks: Buffer[] = [];
  const manifest = weights.map((w) => {
    const store = w.store ?? "float32";
    if (store === "float16") {
      chunks.push(Buffer.from(Uint16Array.from(w.values, toHalf).buffer));
      return { name: w.name, shape: w.shape, dtype: "float32", quantization: { dtype: "float16" } };
    }
    if (store === "uint8") {
      const min = Math.min(...w.values), max = Math.max(...w.values);
      const scale = (max - min) / 255 || 1;
      chunks.push(Buffer.from(Uint8Array.from(w.values, (v) => Math.round((v - min) / scale))));
      return { name: w.name, shape: w.shape, dtype: "float32", quantization: { dtype: "uint8", scale, min } };
    }
    chunks.push(Buffer.from(Float32Array.from(w.values).buffer));
    return { name: w.name, shape: w.shape, dtype: "float32" };
  });
  writeFileSync(join(dir, "weights.bin"), Buffer.concat(chunks));
  writeFileSync(join(dir, "model.json"), JSON.stringify({
    format: "layers-model", generatedBy: "nmc-test", convertedBy: null, modelTopology: topology,
    weightsManifest: [{ paths: ["weights.bin"], weights: manifest }], ...extra,
  }));
  return join(dir, "model.json");
}

export const seq = (layers: unknown[]) => ({ class_name: "Sequential", config: { name: "m", layers } });

export function ramp(n: number, scale = 0.1): number[] {
  return Array.from({ length: n }, (_, i) => scale * (((i * 7) % 11) - 5));
}
