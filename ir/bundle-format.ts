// The fixed facts of the bundle format (the layout is described in ir/bundle.ts) that the writer
// (bundle-write.ts) and the reader (bundle-read.ts) share: constants, header offsets, the manifest schema,
// checksums, alignment and the core table's rules. A leaf module, so that bundle.ts can re-export it and the
// writer and reader can import it without an import cycle.
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import type { NmcError } from "./errors.js";

export const BUNDLE_MAGIC = "NMB1";
export const BUNDLE_VERSION = 1;
export const BUNDLE_HEADER_SIZE = 48;
export const BUNDLE_ALIGN = 64;
/** Header flag bit 0: tensor bytes in the sections are little-endian. */
export const FLAG_LITTLE_ENDIAN = 1;
/** The section holding encodeGraph(graph) (ir/codec.ts); every bundle carries one. */
export const IR_SECTION = "ir";
/** The `kind` of the IR section. */
export const IR_SECTION_KIND = "nmc.ir.Graph";

export const SHA_BYTES = 32;
export const MANIFEST_START = BUNDLE_HEADER_SIZE;
/** Byte offsets of the header fields. */
export const OFF = { magic: 0, version: 4, headerSize: 6, manifestLength: 8, flags: 12, manifestSha: 16 } as const;

let root: protobuf.Root | undefined;

/** The nmc.bundle.Manifest message type (ir/bundle.proto, copied beside the compiled code by the build). */
export function manifestType(): protobuf.Type {
  if (!root) root = protobuf.loadSync(fileURLToPath(new URL("./bundle.proto", import.meta.url)));
  return root.lookupType("nmc.bundle.Manifest");
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function alignUp(n: number): number {
  return Math.ceil(n / BUNDLE_ALIGN) * BUNDLE_ALIGN;
}

export function showBytes(b: Uint8Array): string {
  let s = "";
  for (const x of b) {
    s += x >= 0x20 && x < 0x7f && x !== 0x5c && x !== 0x22 ? String.fromCharCode(x) : `\\x${x.toString(16).padStart(2, "0")}`;
  }
  return `"${s}" (${Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ")})`;
}

export const sectionNode = (name: string) => `section ${name}`;

export function sortedRecord(r: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r ?? {}).sort()) out[k] = String(r![k]);
  return out;
}

/** The core table's rules (ids unique in 0..2^32-1, section names that exist); `fail` shapes the error. */
export function checkCores(
  cores: { id: number; sectionNames: string[] }[], sections: Set<string>,
  fail: (message: string, expected: string, found: string) => NmcError,
): void {
  const ids = new Set<number>();
  for (const c of cores) {
    if (!Number.isInteger(c.id) || c.id < 0 || c.id > 0xffffffff) throw fail("invalid core id", "an integer in 0..2^32-1", String(c.id));
    if (ids.has(c.id)) throw fail(`duplicate core id ${c.id}`, "unique core ids", `core ${c.id} twice`);
    ids.add(c.id);
    for (const n of c.sectionNames) {
      if (!sections.has(n)) {
        throw fail(`core ${c.id} names section ${JSON.stringify(n)}, which the bundle does not have`, "the name of a section of the bundle", JSON.stringify(n));
      }
    }
  }
}
