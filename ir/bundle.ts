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
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
// binary-parser's ESM build is untyped under NodeNext; its CommonJS build is typed and the class is the same.
import { Parser } from "binary-parser/dist/binary_parser.js";
import protobuf from "protobufjs";
import { decodeGraph, encodeGraph } from "./codec.js";
import { NmcError } from "./errors.js";
import { writeFileAtomic } from "./files.js";
import type { Graph } from "./types.js";

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

const SHA_BYTES = 32;
const MANIFEST_START = BUNDLE_HEADER_SIZE;
const OFF = { magic: 0, version: 4, headerSize: 6, manifestLength: 8, flags: 12, manifestSha: 16 } as const;

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
// Schema and small helpers

let root: protobuf.Root | undefined;

/** The nmc.bundle.Manifest message type (ir/bundle.proto, copied beside the compiled code by the build). */
export function manifestType(): protobuf.Type {
  if (!root) root = protobuf.loadSync(fileURLToPath(new URL("./bundle.proto", import.meta.url)));
  return root.lookupType("nmc.bundle.Manifest");
}

let nmcVersionCache: string | undefined;

/** nmc's version from its package.json (found above this module, from the sources or from dist/). */
function defaultNmcVersion(): string {
  if (nmcVersionCache !== undefined) return nmcVersionCache;
  nmcVersionCache = "unknown";
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "nmc" && typeof pkg.version === "string") {
        nmcVersionCache = pkg.version;
        break;
      }
    } catch {
      // not here; look one directory up
    }
    dir = dirname(dir);
  }
  return nmcVersionCache;
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function alignUp(n: number): number {
  return Math.ceil(n / BUNDLE_ALIGN) * BUNDLE_ALIGN;
}

function showBytes(b: Uint8Array): string {
  let s = "";
  for (const x of b) {
    s += x >= 0x20 && x < 0x7f && x !== 0x5c && x !== 0x22 ? String.fromCharCode(x) : `\\x${x.toString(16).padStart(2, "0")}`;
  }
  return `"${s}" (${Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ")})`;
}

const sectionNode = (name: string) => `section ${name}`;

function sortedRecord(r: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r ?? {}).sort()) out[k] = String(r![k]);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

function checkInput(b: BundleInput): void {
  const seen = new Set<string>();
  for (const s of b.sections) {
    if (typeof s.name !== "string" || s.name === "") {
      throw new NmcError("a bundle section has no name", { node: "manifest", expected: "a non-empty section name", found: JSON.stringify(s.name) });
    }
    if (seen.has(s.name)) {
      throw new NmcError(`duplicate bundle section name ${JSON.stringify(s.name)}`, {
        node: sectionNode(s.name), expected: "unique section names", found: `${JSON.stringify(s.name)} twice`,
      });
    }
    if (!(s.data instanceof Uint8Array)) {
      throw new NmcError(`bundle section ${JSON.stringify(s.name)} has no byte data`, { node: sectionNode(s.name), expected: "a Uint8Array" });
    }
    seen.add(s.name);
  }
  if (!seen.has(IR_SECTION)) {
    throw new NmcError(`a bundle must carry the IR in a section named ${JSON.stringify(IR_SECTION)}`, {
      node: "manifest", expected: `a section ${JSON.stringify(IR_SECTION)}`, found: `sections [${[...seen].map((n) => JSON.stringify(n)).join(", ")}]`,
      hint: "add irSection(graph)",
    });
  }
  if (b.hardwareJson) {
    try {
      JSON.parse(b.hardwareJson);
    } catch (e) {
      throw new NmcError("the hardware description is not valid JSON", { node: "manifest", expected: "JSON text", found: (e as Error).message });
    }
  }
  checkCores((b.cores ?? []).map((c) => ({ id: c.id, sectionNames: c.sectionNames ?? [] })), seen, (message, expected, found) =>
    new NmcError(message, { node: "manifest", expected, found }));
}

function checkCores(
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

/** The bundle as bytes (see the layout at the top of this file). Throws NmcError on an invalid input. */
export function encodeBundle(b: BundleInput): Uint8Array {
  const chunks = bundleChunks(b);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The bundle's bytes as a list of pieces: head, then each section's data with zero padding before it. */
function bundleChunks(b: BundleInput): Uint8Array[] {
  const { head, offsets, total } = layoutBundle(b);
  const chunks: Uint8Array[] = [head];
  let end = head.length;
  b.sections.forEach((s, i) => {
    const at = offsets[i]!;
    if (at > end) chunks.push(new Uint8Array(at - end));
    chunks.push(s.data);
    end = at + s.data.length;
  });
  if (total > end) chunks.push(new Uint8Array(total - end));
  return chunks;
}

/**
 * The bundle's first bytes (header and manifest) and where each section goes: the file is `head`, then each
 * section's data at its offset with zeros in between, up to `total` bytes.
 */
function layoutBundle(b: BundleInput): { head: Uint8Array; offsets: number[]; total: number } {
  checkInput(b);
  const Manifest = manifestType();
  const baseManifest = {
    formatVersion: BUNDLE_VERSION,
    nmcVersion: b.nmcVersion ?? defaultNmcVersion(),
    createdAt: b.createdAt ?? new Date().toISOString(),
    modelName: b.modelName,
    modelSource: b.modelSource ?? "",
    target: b.target,
    hardwareJson: b.hardwareJson ?? "",
    meta: sortedRecord(b.meta),
    cores: (b.cores ?? []).map((c) => ({
      id: c.id, placement: c.placement ?? "", sectionNames: [...(c.sectionNames ?? [])], attrs: sortedRecord(c.attrs),
    })),
  };
  // Section offsets depend on the manifest's length, which depends on the offsets (varints): iterate until
  // the layout is stable (it is after a couple of rounds: offsets only grow, by at most a few bytes each).
  const hashes = b.sections.map((s) => sha256(s.data));
  let manifestLength = 0;
  let manifestBytes: Uint8Array = new Uint8Array(0);
  let offsets: number[] = [];
  for (let round = 0; ; round++) {
    offsets = [];
    let end = MANIFEST_START + manifestLength;
    for (const s of b.sections) {
      const at = alignUp(end);
      offsets.push(at);
      end = at + s.data.length;
    }
    const sections = b.sections.map((s, i) => ({
      name: s.name, kind: s.kind, offset: offsets[i]!, length: s.data.length, sha256: hashes[i]!,
    }));
    const msg = Manifest.fromObject({ ...baseManifest, sections });
    manifestBytes = Manifest.encode(msg).finish();
    if (manifestBytes.length === manifestLength) break;
    if (round > 16) throw new Error("bundle layout did not converge"); // a bug, not a user error
    manifestLength = manifestBytes.length;
  }
  const total = b.sections.length ? offsets[offsets.length - 1]! + b.sections[b.sections.length - 1]!.data.length : MANIFEST_START + manifestLength;
  const head = new Uint8Array(MANIFEST_START + manifestLength);
  const dv = new DataView(head.buffer);
  for (let i = 0; i < 4; i++) head[OFF.magic + i] = BUNDLE_MAGIC.charCodeAt(i);
  dv.setUint16(OFF.version, BUNDLE_VERSION, true);
  dv.setUint16(OFF.headerSize, BUNDLE_HEADER_SIZE, true);
  dv.setUint32(OFF.manifestLength, manifestLength, true);
  dv.setUint32(OFF.flags, FLAG_LITTLE_ENDIAN, true);
  head.set(sha256(manifestBytes), OFF.manifestSha);
  head.set(manifestBytes, MANIFEST_START);
  return { head, offsets, total };
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

interface Header {
  magic: Uint8Array;
  version: number;
  headerSize: number;
  manifestLength: number;
  flags: number;
  manifestSha: Uint8Array;
}

const HEADER = new Parser()
  .buffer("magic", { length: 4 })
  .uint16le("version")
  .uint16le("headerSize")
  .uint32le("manifestLength")
  .uint32le("flags")
  .buffer("manifestSha", { length: SHA_BYTES });

/* eslint-disable @typescript-eslint/no-explicit-any */
type Pb = any;

/**
 * Reads and verifies a bundle: header, manifest checksum, layout, padding, section checksums, end of file.
 * Any failure is an NmcError naming the file, the byte offset, and the header / manifest / section concerned.
 */
export function decodeBundle(bytes: Uint8Array, file?: string): Bundle {
  const L = bytes.length;
  const fail = (node: string, at: number, message: string, expected?: string, found?: string, hint?: string) =>
    new NmcError(message, { file, path: `byte ${at}`, node, expected, found, hint });

  // ---- header ----
  const magic = new TextEncoder().encode(BUNDLE_MAGIC);
  const have = bytes.subarray(0, Math.min(4, L));
  if (!equalBytes(have, magic.subarray(0, have.length))) {
    throw fail("header", OFF.magic, "not an nmc bundle: bad magic", showBytes(magic), showBytes(have));
  }
  if (L < BUNDLE_HEADER_SIZE) {
    throw fail("header", L, `the file ends inside the ${BUNDLE_HEADER_SIZE}-byte bundle header`,
      `at least ${BUNDLE_HEADER_SIZE} bytes`, `${L} bytes`, "the file is truncated");
  }
  const h = HEADER.parse(bytes) as unknown as Header;
  if (h.version !== BUNDLE_VERSION) {
    throw fail("header", OFF.version, "unknown bundle version", `version ${BUNDLE_VERSION}`, `version ${h.version}`,
      h.version > BUNDLE_VERSION ? "the bundle was written by a newer nmc" : undefined);
  }
  if (h.headerSize !== BUNDLE_HEADER_SIZE) {
    throw fail("header", OFF.headerSize, "wrong bundle header size", `${BUNDLE_HEADER_SIZE}`, `${h.headerSize}`);
  }
  if (h.flags !== FLAG_LITTLE_ENDIAN) {
    const bad = h.flags & ~FLAG_LITTLE_ENDIAN;
    throw fail("header", OFF.flags, bad ? "unknown bundle header flags" : "the bundle's tensors are not marked little-endian",
      `flags 0x${FLAG_LITTLE_ENDIAN.toString(16).padStart(8, "0")} (bit 0: little-endian tensors; no other bit)`,
      `flags 0x${(h.flags >>> 0).toString(16).padStart(8, "0")}`);
  }
  const manifestEnd = MANIFEST_START + h.manifestLength;
  if (manifestEnd > L) {
    throw fail("header", OFF.manifestLength, `the manifest length runs past the end of the file`,
      `a manifest within the file's ${L} bytes (at most ${L - MANIFEST_START} bytes)`,
      `${h.manifestLength} bytes (bytes ${MANIFEST_START}..${manifestEnd})`, "the file is truncated or its header is corrupt");
  }

  // ---- manifest ----
  const manifestBytes = bytes.subarray(MANIFEST_START, manifestEnd);
  const actualSha = sha256(manifestBytes);
  if (!equalBytes(actualSha, h.manifestSha)) {
    throw fail("manifest", MANIFEST_START, `manifest checksum mismatch at bytes ${MANIFEST_START}..${manifestEnd}`,
      `sha256 ${hex(h.manifestSha)} (from the header, bytes ${OFF.manifestSha}..${BUNDLE_HEADER_SIZE})`, `sha256 ${hex(actualSha)}`,
      "the file is corrupt");
  }
  const Manifest = manifestType();
  let m: Pb;
  try {
    m = Manifest.toObject(Manifest.decode(manifestBytes), { longs: Number, bytes: Array, defaults: true, arrays: true, objects: true });
  } catch (e) {
    throw fail("manifest", MANIFEST_START, "the bundle manifest is not a valid nmc.bundle.Manifest message",
      "an nmc.bundle.Manifest message", e instanceof Error ? e.message : String(e));
  }
  const manifestFail = (message: string, expected?: string, found?: string) => fail("manifest", MANIFEST_START, message, expected, found);
  if (m.formatVersion !== BUNDLE_VERSION) {
    throw manifestFail("unknown manifest format version", `${BUNDLE_VERSION}`, `${m.formatVersion}`);
  }

  // ---- sections ----
  const names = new Set<string>();
  const infos: SectionInfo[] = [];
  const sections = new Map<string, BundleSection>();
  let end = manifestEnd;
  let lastNode = "manifest";
  for (const s of m.sections as Pb[]) {
    const name = String(s.name);
    const node = sectionNode(name);
    const offset = Number(s.offset);
    const length = Number(s.length);
    if (name === "") throw manifestFail("a bundle section has no name", "a non-empty section name", '""');
    if (names.has(name)) throw manifestFail(`duplicate bundle section name ${JSON.stringify(name)}`, "unique section names", `${JSON.stringify(name)} twice`);
    names.add(name);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset + length > L) {
      throw fail(node, Number.isSafeInteger(offset) ? offset : L, `section ${JSON.stringify(name)} runs past the end of the file`,
        `a section within the file's ${L} bytes`, `bytes ${offset}..${offset + length}`, "the file is truncated or its manifest is corrupt");
    }
    if (offset < end) {
      throw fail(node, offset, `section ${JSON.stringify(name)} overlaps the ${lastNode} (which ends at byte ${end})`,
        `a start at byte ${alignUp(end)}`, `a start at byte ${offset}`);
    }
    if (offset % BUNDLE_ALIGN !== 0) {
      throw fail(node, offset, `section ${JSON.stringify(name)} is not aligned to ${BUNDLE_ALIGN} bytes`,
        `a start at byte ${alignUp(end)}`, `a start at byte ${offset}`);
    }
    if (offset !== alignUp(end)) {
      throw fail(node, offset, `section ${JSON.stringify(name)} does not start at the first ${BUNDLE_ALIGN}-byte boundary after the ${lastNode}`,
        `a start at byte ${alignUp(end)}`, `a start at byte ${offset}`);
    }
    for (let i = end; i < offset; i++) {
      if (bytes[i] !== 0) {
        throw fail(node, i, `non-zero padding before section ${JSON.stringify(name)} (bytes ${end}..${offset} must be zero)`,
          "0x00", `0x${bytes[i]!.toString(16).padStart(2, "0")}`);
      }
    }
    const data = bytes.subarray(offset, offset + length);
    const want = Uint8Array.from(s.sha256 as number[]);
    if (want.length !== SHA_BYTES) {
      throw manifestFail(`section ${JSON.stringify(name)} has a malformed checksum`, `${SHA_BYTES} bytes of sha256`, `${want.length} bytes`);
    }
    const got = sha256(data);
    if (!equalBytes(got, want)) {
      throw fail(node, offset, `section ${JSON.stringify(name)} checksum mismatch at bytes ${offset}..${offset + length}`,
        `sha256 ${hex(want)} (from the manifest)`, `sha256 ${hex(got)}`, "the file is corrupt");
    }
    const kind = String(s.kind);
    infos.push({ name, kind, offset, length, sha256: hex(want) });
    const copy = new Uint8Array(length); // a plain copy (Buffer#slice would share the file's memory)
    copy.set(data);
    sections.set(name, { name, kind, data: copy });
    end = offset + length;
    lastNode = node;
  }
  if (end !== L) {
    throw fail(lastNode, end, `trailing bytes after the end of the bundle`, `the file to end at byte ${end}`, `${L - end} more bytes`);
  }
  if (!names.has(IR_SECTION)) {
    throw manifestFail(`the bundle has no ${JSON.stringify(IR_SECTION)} section`, `a section ${JSON.stringify(IR_SECTION)}`,
      `sections [${[...names].map((n) => JSON.stringify(n)).join(", ")}]`);
  }
  const cores: CoreDescriptor[] = (m.cores as Pb[]).map((c) => ({
    id: Number(c.id), placement: String(c.placement), sectionNames: (c.sectionNames as string[]).map(String), attrs: sortedRecord(c.attrs),
  }));
  checkCores(cores, names, (message, expected, found) => manifestFail(message, expected, found));

  return {
    manifest: {
      formatVersion: m.formatVersion, nmcVersion: m.nmcVersion, createdAt: m.createdAt, modelName: m.modelName,
      modelSource: m.modelSource, target: m.target, hardwareJson: m.hardwareJson, meta: sortedRecord(m.meta),
      sections: infos, cores,
    },
    sections,
  };
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

// ---------------------------------------------------------------------------------------------------------
// Files

/** Reads and verifies a bundle file; every error names `path`. */
export function readBundle(path: string): Bundle {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code ?? String(e);
    throw new NmcError(`cannot read bundle: ${code}`, {
      file: path, found: (e as Error)?.message, hint: code === "ENOENT" ? "check the path" : undefined,
    });
  }
  return { ...decodeBundle(bytes, path), fileSha256: createHash("sha256").update(bytes).digest("hex") };
}

/**
 * Encodes `b` and writes it to `path` atomically: the bytes go to a temporary file in the same directory,
 * which is then renamed over `path`. When encoding fails nothing is written and `path` is left as it was.
 */
export function writeBundle(path: string, b: BundleInput): void {
  let chunks: Uint8Array[];
  try {
    chunks = bundleChunks(b);
  } catch (e) {
    throw e instanceof NmcError ? e.inFile(path) : e;
  }
  // The same bytes as encodeBundle, written piece by piece: no copy of the whole bundle in memory.
  writeFileAtomic(path, chunks, "bundle");
}
