// Writing bundles: the layout (header, manifest, then each section on its 64-byte boundary; see
// ir/bundle.ts) as bytes, or as pieces written to a file atomically.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BundleInput } from "./bundle.js";
import {
  BUNDLE_HEADER_SIZE, BUNDLE_MAGIC, BUNDLE_VERSION, FLAG_LITTLE_ENDIAN, IR_SECTION, MANIFEST_START, OFF, alignUp, checkCores,
  manifestType, sectionNode, sha256, sortedRecord,
} from "./bundle-format.js";
import { NmcError } from "./errors.js";
import { writeFileAtomic } from "./files.js";

/** The bundle as bytes (see the layout in ir/bundle.ts). Throws NmcError on an invalid input. */
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
  const { manifestBytes, offsets } = placeSections(b);
  const manifestLength = manifestBytes.length;
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

/** The manifest's fields other than the section table, in a canonical order (maps sorted by key). */
function manifestFields(b: BundleInput) {
  return {
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
}

/** The encoded manifest and each section's offset, which the manifest records. */
function placeSections(b: BundleInput): { manifestBytes: Uint8Array; offsets: number[] } {
  const Manifest = manifestType();
  const baseManifest = manifestFields(b);
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
  return { manifestBytes, offsets };
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

// ---------------------------------------------------------------------------------------------------------
// Inputs

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

/** Refuses an input that would not make a valid bundle (the reader's rules, checked before writing). */
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
