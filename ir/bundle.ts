// The nmc bundle (`.nmb`): one file holding a compiled model: the quantized IR, and whatever named binary
// sections a target adds (weights laid out for its memories, routing tables, ...), described by a protobuf
// manifest (ir/bundle.proto, loaded at run time with protobufjs like ir/nmc.proto).
//
// Layout (all integers little-endian, all offsets from the start of the file):
//
//   bytes 0..4    magic "NMB1"
//   bytes 4..6    u16 container version (1)
//   bytes 6..8    u16 header size (48)
//   bytes 8..12   u32 manifest length M
//   bytes 12..16  u32 flags: bit 0 = tensors are little-endian (must be set); every other bit must be 0
//   bytes 16..48  SHA-256 of the manifest bytes
//   bytes 48..48+M  the nmc.bundle.Manifest message
//   then each section of manifest.sections, in that order, starting at the next multiple of 64 bytes after
//   the end of what precedes it (the manifest, or the previous section); the bytes in between are zero.
//   The file ends exactly where the last section ends (where the manifest ends when there are no sections).
//
// Every byte of the file is covered by a check: the header fields by their fixed values, the manifest by the
// checksum in the header, each section by the checksum in the manifest, padding by being zero, and the end
// of the file by the position of the last section. So flipping any byte or truncating the file anywhere is
// refused by decodeBundle with an NmcError whose `node` is "header", "manifest" or "section <name>", whose
// `path` is "byte N" (the offset where the failing field or region starts), and whose expected/found say what
// failed. Byte ranges in messages are half-open: "bytes A..B" is A up to, not including, B.
//
// The rooms: bundle-format.ts (constants, manifest schema, checksums), bundle-write.ts (encodeBundle,
// writeBundle), bundle-read.ts (decodeBundle, readBundle). This module holds the public types and the IR
// section helpers, and re-exports the rest, so that callers import the bundle from here only.
import { decodeGraph, encodeGraph } from "./codec.js";
import { IR_SECTION, IR_SECTION_KIND, sectionNode } from "./bundle-format.js";
import { NmcError } from "./errors.js";
import type { Graph } from "./types.js";

export {
  BUNDLE_ALIGN, BUNDLE_HEADER_SIZE, BUNDLE_MAGIC, BUNDLE_VERSION, FLAG_LITTLE_ENDIAN, IR_SECTION, IR_SECTION_KIND, manifestType,
} from "./bundle-format.js";
export { decodeBundle, readBundle } from "./bundle-read.js";
export { encodeBundle, writeBundle } from "./bundle-write.js";

// ---------------------------------------------------------------------------------------------------------
// Public types

export interface BundleSection {
  name: string;
  kind: string;
  data: Uint8Array;
}

/** A per-core descriptor, as targets give it (a placeholder until targets define real fields). */
export interface CoreDescriptorInit {
  id: number;
  placement?: string;
  sectionNames?: string[];
  attrs?: Record<string, string>;
}

export interface CoreDescriptor {
  id: number;
  placement: string;
  sectionNames: string[];
  attrs: Record<string, string>;
}

export interface BundleInput {
  modelName: string;
  modelSource?: string;
  target: string;
  /** The target's hardware description as JSON text; checked to parse. */
  hardwareJson?: string;
  meta?: Record<string, string>;
  /** Written in this order; names unique; one must be IR_SECTION. */
  sections: BundleSection[];
  cores?: CoreDescriptorInit[];
  /** ISO 8601; defaults to now. */
  createdAt?: string;
  /** Defaults to the version in nmc's package.json. */
  nmcVersion?: string;
}

/** Where a section lies in the file, and its checksum (lower-case hex). */
export interface SectionInfo {
  name: string;
  kind: string;
  offset: number;
  length: number;
  sha256: string;
}

/** A plain TypeScript view of the manifest. */
export interface ManifestInfo {
  formatVersion: number;
  nmcVersion: string;
  createdAt: string;
  modelName: string;
  modelSource: string;
  target: string;
  hardwareJson: string;
  meta: Record<string, string>;
  sections: SectionInfo[];
  cores: CoreDescriptor[];
}

export interface Bundle {
  manifest: ManifestInfo;
  /** In file order; each section's data is a copy (offset 0 in its own buffer). */
  sections: Map<string, BundleSection>;
  /** readBundle: the sha256 (hex) of the file's bytes, as read (what a run's part file records). */
  fileSha256?: string;
}

// ---------------------------------------------------------------------------------------------------------
// The IR section

/** The section carrying `g` (encodeGraph), to put in BundleInput.sections. */
export function irSection(g: Graph): BundleSection {
  return { name: IR_SECTION, kind: IR_SECTION_KIND, data: encodeGraph(g) };
}

/** The section carrying the float graph a quantized bundle was made from (for float-vs-quantized checks). */
export const FLOAT_IR_SECTION = "ir.float";

/**
 * The graph in a bundle's IR section (or another section holding an nmc.ir.Graph), decoded and verified;
 * errors name the section (and `file`).
 */
export function bundleGraph(b: Bundle, file?: string, name: string = IR_SECTION): Graph {
  const s = b.sections.get(name);
  const info = b.manifest.sections.find((x) => x.name === name);
  if (!s) {
    throw new NmcError(`the bundle has no ${JSON.stringify(name)} section`, { file, node: "manifest", expected: `a section ${JSON.stringify(name)}` });
  }
  try {
    return decodeGraph(s.data);
  } catch (e) {
    if (e instanceof NmcError) {
      throw new NmcError(e.message, {
        ...e.fields(), file: file ?? e.file, node: e.node ?? sectionNode(name), path: e.path ?? (info ? `byte ${info.offset}` : undefined),
      });
    }
    throw e;
  }
}
