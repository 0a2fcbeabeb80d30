// Reading bundles: every byte of the file is checked (see the layout and the error contract in
// ir/bundle.ts): the header by its fixed values, the manifest by its checksum, each section by its place,
// its padding and its checksum, and the end of the file by the end of the last section.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
// binary-parser's ESM build is untyped under NodeNext; its CommonJS build is typed and the class is the same.
import { Parser } from "binary-parser/dist/binary_parser.js";
import type { Bundle, BundleSection, CoreDescriptor, SectionInfo } from "./bundle.js";
import {
  BUNDLE_ALIGN, BUNDLE_HEADER_SIZE, BUNDLE_MAGIC, BUNDLE_VERSION, FLAG_LITTLE_ENDIAN, IR_SECTION, MANIFEST_START, OFF, SHA_BYTES,
  alignUp, checkCores, equalBytes, hex, manifestType, sectionNode, sha256, showBytes, sortedRecord,
} from "./bundle-format.js";
import { NmcError } from "./errors.js";

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
/** The manifest as protobufjs toObject gives it (checked field by field below). */
type Pb = any;

type Fail = (node: string, at: number, message: string, expected?: string, found?: string, hint?: string) => NmcError;

/**
 * Reads and verifies a bundle: header, manifest checksum, layout, padding, section checksums, end of file.
 * Any failure is an NmcError naming the file, the byte offset, and the header / manifest / section concerned.
 */
export function decodeBundle(bytes: Uint8Array, file?: string): Bundle {
  const fail: Fail = (node, at, message, expected, found, hint) =>
    new NmcError(message, { file, path: `byte ${at}`, node, expected, found, hint });
  const h = decodeHeader(bytes, fail);
  const manifestEnd = MANIFEST_START + h.manifestLength;
  const m = decodeManifest(bytes.subarray(MANIFEST_START, manifestEnd), h, fail);
  const manifestFail = (message: string, expected?: string, found?: string) => fail("manifest", MANIFEST_START, message, expected, found);
  const { names, infos, sections } = decodeSections(bytes, m.sections as Pb[], manifestEnd, fail, manifestFail);
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

/** The fixed 48-byte header, checked field by field, and that the manifest it announces fits in the file. */
function decodeHeader(bytes: Uint8Array, fail: Fail): Header {
  const L = bytes.length;
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
  return h;
}

/** The manifest message, after its checksum (from the header) matches; as a plain object. */
function decodeManifest(manifestBytes: Uint8Array, h: Header, fail: Fail): Pb {
  const manifestEnd = MANIFEST_START + manifestBytes.length;
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
  if (m.formatVersion !== BUNDLE_VERSION) {
    throw fail("manifest", MANIFEST_START, "unknown manifest format version", `${BUNDLE_VERSION}`, `${m.formatVersion}`);
  }
  return m;
}

/**
 * Each section of the manifest's table, in order: it must start at the first 64-byte boundary after what
 * precedes it, with zero padding in between, match its checksum, and the last one must end the file.
 */
function decodeSections(
  bytes: Uint8Array, table: Pb[], manifestEnd: number, fail: Fail,
  manifestFail: (message: string, expected?: string, found?: string) => NmcError,
): { names: Set<string>; infos: SectionInfo[]; sections: Map<string, BundleSection> } {
  const L = bytes.length;
  const names = new Set<string>();
  const infos: SectionInfo[] = [];
  const sections = new Map<string, BundleSection>();
  let end = manifestEnd;
  let lastNode = "manifest";
  for (const s of table) {
    const name = String(s.name);
    const node = sectionNode(name);
    const offset = Number(s.offset);
    const length = Number(s.length);
    if (name === "") throw manifestFail("a bundle section has no name", "a non-empty section name", '""');
    if (names.has(name)) throw manifestFail(`duplicate bundle section name ${JSON.stringify(name)}`, "unique section names", `${JSON.stringify(name)} twice`);
    names.add(name);
    checkPlace(bytes, name, offset, length, end, lastNode, fail);
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
  return { names, infos, sections };
}

/** A section lies in the file at the first 64-byte boundary after `end` (where `lastNode` ends), zeros before it. */
function checkPlace(bytes: Uint8Array, name: string, offset: number, length: number, end: number, lastNode: string, fail: Fail): void {
  const L = bytes.length;
  const node = sectionNode(name);
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
}

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
