import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  BUNDLE_ALIGN, BUNDLE_HEADER_SIZE, type BundleInput, type BundleSection, IR_SECTION, IR_SECTION_KIND, bundleGraph,
  decodeBundle, encodeBundle, irSection, manifestType, readBundle, writeBundle,
} from "../../ir/bundle.js";
import { GraphBuilder, csrFromDense } from "../../ir/builder.js";
import { decodeGraph, encodeGraph } from "../../ir/codec.js";
import { NmcError } from "../../ir/errors.js";
import { printGraph } from "../../ir/print.js";

const FILE = "model.nmb";
const bytesOf = (...xs: number[]) => Uint8Array.from(xs);
const seq = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + 1) & 0xff);
const sha = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());

const FIXED = { createdAt: "2025-01-02T03:04:05.000Z", nmcVersion: "0.1.0-test" };

function input(sections: BundleSection[], extra: Partial<BundleInput> = {}): BundleInput {
  return { modelName: "m", target: "golden", sections, ...FIXED, ...extra };
}

/** decodeBundle must throw an NmcError with node and path set; returns it. */
function refused(bytes: Uint8Array, what: string): NmcError {
  let e: unknown;
  try {
    decodeBundle(bytes, FILE);
  } catch (x) {
    e = x;
  }
  if (e === undefined) throw new Error(`${what}: decodeBundle accepted the bytes`);
  if (!(e instanceof NmcError)) throw new Error(`${what}: threw a non-NmcError: ${String((e as Error)?.stack ?? e)}`);
  if (!e.node || !/^(header|manifest|section .+)$/.test(e.node)) throw new Error(`${what}: bad node ${e.node} (${e.format()})`);
  if (!e.path || !/^byte \d+$/.test(e.path)) throw new Error(`${what}: bad path ${e.path} (${e.format()})`);
  if (e.file !== FILE) throw new Error(`${what}: file not set (${e.format()})`);
  if (e.expected === undefined || e.found === undefined) throw new Error(`${what}: expected/found not set (${e.format()})`);
  return e;
}

const byteOf = (e: NmcError) => Number(e.path!.slice(5));

// A small bundle: a few hundred bytes, three sections (one empty), with meta and a core.
const SMALL = input(
  [
    { name: IR_SECTION, kind: IR_SECTION_KIND, data: seq(37) },
    { name: "weights", kind: "i8", data: seq(70, 2) },
    { name: "empty", kind: "none", data: new Uint8Array(0) },
    { name: "routes", kind: "u32", data: seq(9, 3) },
  ],
  { meta: { quant: "int8", b: "2" }, hardwareJson: '{"cores":4}', cores: [{ id: 0, placement: "x0y0", sectionNames: ["weights"], attrs: { k: "v" } }] },
);
const small = encodeBundle(SMALL);

describe("bundle layout", () => {
  it("writes the documented header, manifest and 64-byte aligned sections", () => {
    const dv = new DataView(small.buffer, small.byteOffset, small.byteLength);
    expect(String.fromCharCode(...small.subarray(0, 4))).toBe("NMB1");
    expect(dv.getUint16(4, true)).toBe(1);
    expect(dv.getUint16(6, true)).toBe(BUNDLE_HEADER_SIZE);
    const mlen = dv.getUint32(8, true);
    expect(dv.getUint32(12, true)).toBe(1);
    expect(Buffer.from(small.subarray(16, 48)).equals(Buffer.from(sha(small.subarray(48, 48 + mlen))))).toBe(true);
    const b = decodeBundle(small, FILE);
    let end = 48 + mlen;
    for (const s of b.manifest.sections) {
      expect(s.offset % BUNDLE_ALIGN).toBe(0);
      expect(s.offset).toBe(Math.ceil(end / 64) * 64);
      expect(small.subarray(end, s.offset).every((x) => x === 0)).toBe(true);
      expect(Buffer.from(small.subarray(s.offset, s.offset + s.length)).equals(Buffer.from(b.sections.get(s.name)!.data))).toBe(true);
      end = s.offset + s.length;
    }
    expect(small.length).toBe(end);
    expect(small.length).toBeLessThan(700);
    expect(b.manifest).toMatchObject({
      formatVersion: 1, modelName: "m", target: "golden", hardwareJson: '{"cores":4}', meta: { b: "2", quant: "int8" },
      cores: [{ id: 0, placement: "x0y0", sectionNames: ["weights"], attrs: { k: "v" } }], ...FIXED, modelSource: "",
    });
    expect([...b.sections.keys()]).toEqual([IR_SECTION, "weights", "empty", "routes"]);
    // a view at an odd offset of a larger buffer decodes the same
    const shifted = new Uint8Array(small.length + 3);
    shifted.set(small, 3);
    expect(decodeBundle(shifted.subarray(3)).manifest).toEqual(b.manifest);
  });

  it("round-trips random bundles, byte-stably", () => {
    const section = fc.record({ kind: fc.string({ maxLength: 6 }), data: fc.uint8Array({ maxLength: 200 }) });
    const arb = fc.record({
      ir: fc.uint8Array({ maxLength: 150 }),
      others: fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), section), {
        maxLength: 5, selector: ([n]) => n,
      }).map((xs) => xs.filter(([n]) => n !== IR_SECTION)),
      meta: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 10 }), { maxKeys: 4 }),
      irFirst: fc.boolean(),
    });
    fc.assert(fc.property(arb, (r) => {
      const others = r.others.map(([name, s]) => ({ name, ...s }));
      const ir = { name: IR_SECTION, kind: IR_SECTION_KIND, data: r.ir };
      const sections = r.irFirst ? [ir, ...others] : [...others, ir];
      const bytes = encodeBundle(input(sections, { meta: r.meta, modelSource: "src.json" }));
      const b = decodeBundle(bytes, FILE);
      expect([...b.sections.keys()]).toEqual(sections.map((s) => s.name));
      for (const s of sections) {
        const got = b.sections.get(s.name)!;
        expect(got.kind).toBe(s.kind);
        expect(Buffer.from(got.data).equals(Buffer.from(s.data))).toBe(true);
      }
      expect(b.manifest.meta).toEqual({ ...r.meta });
      expect(b.manifest.modelSource).toBe("src.json");
      // re-encoding what was decoded gives the same bytes (meta key order does not matter)
      const again = encodeBundle(input([...b.sections.values()], { meta: b.manifest.meta, modelSource: "src.json" }));
      expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
    }), { numRuns: 60 });
  });
});

describe("bundle corruption", () => {
  const b = decodeBundle(small, FILE);
  const mlen = new DataView(small.buffer, small.byteOffset).getUint32(8, true);
  const manifestEnd = 48 + mlen;

  /** The node a flip at byte i must be reported against, and (for padding) the exact byte. */
  function expectedFor(i: number): { nodes: string[]; at?: number } {
    if (i < 8 || (i >= 12 && i < 16)) return { nodes: ["header"] };
    if (i < 12) return { nodes: ["header", "manifest"] }; // manifest length: past the end, or a checksum over other bytes
    if (i < manifestEnd) return { nodes: ["manifest"] };
    for (const s of b.manifest.sections) {
      if (i < s.offset) return { nodes: [`section ${s.name}`], at: i }; // padding before it
      if (i < s.offset + s.length) return { nodes: [`section ${s.name}`], at: s.offset };
    }
    throw new Error("byte beyond the bundle");
  }

  it("refuses every single-byte flip (xor 0xff and xor 0x01), naming the part and offset", () => {
    let n = 0;
    for (let i = 0; i < small.length; i++) {
      for (const mask of [0xff, 0x01]) {
        const bad = small.slice();
        bad[i]! ^= mask;
        const e = refused(bad, `flip ${mask} at byte ${i}`);
        const want = expectedFor(i);
        expect(want.nodes, `flip ${mask} at byte ${i}: ${e.format()}`).toContain(e.node);
        if (want.at !== undefined) expect(byteOf(e), e.format()).toBe(want.at);
        n++;
      }
    }
    expect(n).toBe(2 * small.length);
  });

  it("refuses the file truncated at every length, and with bytes appended", () => {
    for (let len = 0; len < small.length; len++) refused(small.subarray(0, len), `truncated to ${len}`);
    const longer = new Uint8Array(small.length + 1);
    longer.set(small);
    const e = refused(longer, "one trailing byte");
    expect(e.message).toMatch(/trailing bytes/);
    expect(e.path).toBe(`byte ${small.length}`);
    expect(e.node).toBe("section routes");
  });

  it("refuses random flips in random bundles (property)", () => {
    const arb = fc.record({
      sizes: fc.array(fc.integer({ min: 0, max: 130 }), { minLength: 0, maxLength: 4 }),
      meta: fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
      pos: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      mask: fc.integer({ min: 1, max: 255 }),
      cut: fc.boolean(),
    });
    fc.assert(fc.property(arb, (r) => {
      const sections = [{ name: IR_SECTION, kind: IR_SECTION_KIND, data: seq(r.sizes[0] ?? 5) },
        ...r.sizes.slice(1).map((n, i) => ({ name: `s${i}`, kind: "raw", data: seq(n, i + 2) }))];
      const bytes = encodeBundle(input(sections, { meta: r.meta }));
      const i = Math.floor(r.pos * bytes.length);
      if (r.cut) {
        refused(bytes.subarray(0, i), `cut at ${i}`);
      } else {
        const bad = bytes.slice();
        bad[i]! ^= r.mask;
        refused(bad, `xor ${r.mask} at ${i}`);
      }
    }), { numRuns: 300 });
  });
});

describe("bundle errors", () => {
  const mlen = new DataView(small.buffer, small.byteOffset).getUint32(8, true);
  const patch = (at: number, ...xs: number[]) => {
    const b = small.slice();
    b.set(xs, at);
    return b;
  };

  it("reports header problems at their field", () => {
    let e = refused(patch(0, 0x50, 0x4b, 0x03, 0x04), "zip magic");
    expect(e).toMatchObject({ node: "header", path: "byte 0" });
    expect(e.found).toContain('"PK\\x03\\x04"');
    expect(e.format()).toMatch(/^model\.nmb: byte 0: not an nmc bundle: bad magic/);
    e = refused(patch(4, 2, 0), "version 2");
    expect(e).toMatchObject({ node: "header", path: "byte 4", message: "unknown bundle version", found: "version 2" });
    e = refused(patch(6, 64, 0), "header size");
    expect(e).toMatchObject({ node: "header", path: "byte 6", expected: "48", found: "64" });
    e = refused(patch(12, 0, 0, 0, 0), "big-endian flag");
    expect(e).toMatchObject({ node: "header", path: "byte 12", message: "the bundle's tensors are not marked little-endian" });
    e = refused(patch(12, 3, 0, 0, 0), "unknown flag");
    expect(e).toMatchObject({ node: "header", path: "byte 12", message: "unknown bundle header flags" });
    e = refused(patch(8, 0xff, 0xff, 0, 0), "manifest length");
    expect(e).toMatchObject({ node: "header", path: "byte 8" });
    expect(e.message).toMatch(/manifest length runs past the end of the file/);
    e = refused(small.subarray(0, 20), "short header");
    expect(e).toMatchObject({ node: "header", path: "byte 20" });
    e = refused(new Uint8Array(0), "empty file");
    expect(e).toMatchObject({ node: "header", path: "byte 0" });
  });

  it("reports a manifest checksum mismatch with its byte range", () => {
    const e = refused(patch(60, small[60]! ^ 0x10), "manifest byte");
    expect(e).toMatchObject({ node: "manifest", path: "byte 48", message: `manifest checksum mismatch at bytes 48..${48 + mlen}` });
    const e2 = refused(patch(20, small[20]! ^ 1), "stored checksum");
    expect(e2.message).toMatch(/manifest checksum mismatch/);
  });

  it("reports a section checksum mismatch naming the section and its bytes, and non-zero padding at its byte", () => {
    const w = decodeBundle(small).manifest.sections.find((s) => s.name === "weights")!;
    const e = refused(patch(w.offset + 5, small[w.offset + 5]! ^ 4), "weights byte");
    expect(e).toMatchObject({ node: "section weights", path: `byte ${w.offset}` });
    expect(e.message).toBe(`section "weights" checksum mismatch at bytes ${w.offset}..${w.offset + w.length}`);
    const e2 = refused(patch(w.offset - 3, 7), "padding");
    expect(e2).toMatchObject({ node: "section weights", path: `byte ${w.offset - 3}`, expected: "0x00", found: "0x07" });
  });

  // Bundles whose manifest is re-sealed (a correct checksum over a manifest that is wrong): what a buggy
  // writer could produce. Lays the sections out like the encoder unless `offsets` overrides them.
  function sealed(mutate: (m: any) => void, datas: Uint8Array[], offsets?: (auto: number[]) => number[], extra = 0): Uint8Array {
    const M = manifestType();
    let mlen2 = 0;
    let bytes: Uint8Array = new Uint8Array(0);
    let offs: number[] = [];
    for (;;) {
      const auto: number[] = [];
      let end = 48 + mlen2;
      for (const d of datas) {
        const at = Math.ceil(end / 64) * 64;
        auto.push(at);
        end = at + d.length;
      }
      offs = offsets ? offsets(auto) : auto;
      const m: any = {
        formatVersion: 1, modelName: "m", target: "t",
        sections: datas.map((d, i) => ({ name: i === 0 ? IR_SECTION : `s${i}`, kind: "raw", offset: offs[i], length: d.length, sha256: sha(d) })),
      };
      mutate(m);
      bytes = M.encode(M.fromObject(m)).finish();
      if (bytes.length === mlen2) break;
      mlen2 = bytes.length;
    }
    return frame(bytes, (out) => datas.forEach((d, i) => { if (offs[i]! >= 48 + mlen2) out.set(d, offs[i]!); }),
      Math.max(48 + mlen2, ...datas.map((d, i) => offs[i]! + d.length)) + extra);
  }

  function frame(manifest: Uint8Array, fill: (out: Uint8Array) => void, total = 48 + manifest.length): Uint8Array {
    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    out.set([0x4e, 0x4d, 0x42, 0x31]);
    dv.setUint16(4, 1, true);
    dv.setUint16(6, 48, true);
    dv.setUint32(8, manifest.length, true);
    dv.setUint32(12, 1, true);
    out.set(sha(manifest), 16);
    out.set(manifest, 48);
    fill(out);
    return out;
  }

  it("accepts a correctly sealed hand-built bundle (the helpers are right)", () => {
    const b = decodeBundle(sealed(() => {}, [seq(10), seq(0), seq(65)]));
    expect([...b.sections.keys()]).toEqual([IR_SECTION, "s1", "s2"]);
  });

  it("reports layout problems in a well-sealed manifest", () => {
    const two = [seq(10), seq(20)];
    let e = refused(sealed(() => {}, two, (a) => [a[0]!, a[1]! + 1]), "misaligned");
    expect(e).toMatchObject({ node: "section s1" });
    expect(e.message).toMatch(/not aligned to 64 bytes/);
    e = refused(sealed(() => {}, two, (a) => [a[0]!, a[0]!]), "overlap");
    expect(e.message).toMatch(/section "s1" overlaps the section ir/);
    e = refused(sealed(() => {}, two, (a) => [48, a[1]!]), "overlaps manifest");
    expect(e).toMatchObject({ node: "section ir", path: "byte 48" });
    expect(e.message).toMatch(/overlaps the manifest/);
    e = refused(sealed(() => {}, two, (a) => [a[0]!, a[1]! + 64]), "gap");
    expect(e.message).toMatch(/does not start at the first 64-byte boundary/);
    e = refused(sealed((m) => { m.sections[1].length = 2 ** 40; }, two), "outside");
    expect(e).toMatchObject({ node: "section s1" });
    expect(e.message).toMatch(/runs past the end of the file/);
    e = refused(sealed((m) => { m.sections[1].name = IR_SECTION; }, two), "duplicate");
    expect(e).toMatchObject({ node: "manifest", message: 'duplicate bundle section name "ir"' });
    e = refused(sealed((m) => { m.sections[0].name = "notir"; }, two), "no ir");
    expect(e).toMatchObject({ node: "manifest", message: 'the bundle has no "ir" section' });
    e = refused(sealed((m) => { m.formatVersion = 7; }, two), "format version");
    expect(e).toMatchObject({ node: "manifest", message: "unknown manifest format version" });
    e = refused(sealed((m) => { m.sections[1].sha256 = seq(5); }, two), "short sha");
    expect(e.message).toMatch(/malformed checksum/);
    e = refused(sealed((m) => { m.cores = [{ id: 1, sectionNames: ["nope"] }]; }, two), "core names unknown section");
    expect(e.message).toMatch(/core 1 names section "nope"/);
    e = refused(sealed(() => {}, two, undefined, 3), "trailing");
    expect(e).toMatchObject({ node: "section s1", message: "trailing bytes after the end of the bundle" });
  });

  it("reports a manifest that is not a Manifest message", () => {
    const e = refused(frame(bytesOf(0x12, 0x10, 0x41), () => {}), "garbage manifest");
    expect(e).toMatchObject({ node: "manifest", path: "byte 48" });
    expect(e.message).toMatch(/not a valid nmc\.bundle\.Manifest/);
  });

  it("refuses invalid inputs when encoding", () => {
    const ir = { name: IR_SECTION, kind: IR_SECTION_KIND, data: seq(3) };
    const expectErr = (b: BundleInput, re: RegExp, node: string) => {
      try {
        encodeBundle(b);
      } catch (e) {
        expect(e).toBeInstanceOf(NmcError);
        expect((e as NmcError).message).toMatch(re);
        expect((e as NmcError).node).toBe(node);
        return;
      }
      throw new Error("encodeBundle accepted an invalid input");
    };
    expectErr(input([ir, { name: "a", kind: "", data: seq(1) }, { name: "a", kind: "", data: seq(2) }]), /duplicate bundle section name "a"/, "section a");
    expectErr(input([{ name: "a", kind: "", data: seq(1) }]), /must carry the IR in a section named "ir"/, "manifest");
    expectErr(input([ir, { name: "", kind: "", data: seq(1) }]), /has no name/, "manifest");
    expectErr(input([ir], { hardwareJson: "{cores" }), /not valid JSON/, "manifest");
    expectErr(input([ir], { cores: [{ id: 1, sectionNames: ["x"] }] }), /core 1 names section "x"/, "manifest");
    expectErr(input([ir], { cores: [{ id: 1 }, { id: 1 }] }), /duplicate core id 1/, "manifest");
  });
});

describe("bundle files", () => {
  const dir = mkdtempSync(join(tmpdir(), "nmc-bundle-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes atomically, reads back, and leaves the target alone when encoding fails", () => {
    const path = join(dir, "a.nmb");
    writeBundle(path, SMALL);
    expect(readdirSync(dir)).toEqual(["a.nmb"]);
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(small))).toBe(true);
    const read = readBundle(path);
    expect([...read.sections.keys()]).toEqual([IR_SECTION, "weights", "empty", "routes"]);
    // section data are plain copies, not views of the file's buffer
    const w = read.sections.get("weights")!.data;
    expect(Object.getPrototypeOf(w)).toBe(Uint8Array.prototype);
    expect(w.byteOffset).toBe(0);
    expect(w.buffer.byteLength).toBe(w.length);
    const dup = input([...SMALL.sections, { name: "weights", kind: "x", data: seq(4) }]);
    expect(() => writeBundle(path, dup)).toThrow(NmcError);
    try {
      writeBundle(path, dup);
    } catch (e) {
      expect((e as NmcError).file).toBe(path);
    }
    expect(readdirSync(dir)).toEqual(["a.nmb"]);
    expect(Buffer.from(readFileSync(path)).equals(Buffer.from(small))).toBe(true);
    // overwriting with a different valid bundle replaces it
    writeBundle(path, input([{ name: IR_SECTION, kind: IR_SECTION_KIND, data: seq(3) }]));
    expect(readdirSync(dir)).toEqual(["a.nmb"]);
    expect(readBundle(path).sections.get(IR_SECTION)!.data).toEqual(seq(3));
  });

  it("names the path in read errors", () => {
    const missing = join(dir, "missing.nmb");
    expect(() => readBundle(missing)).toThrow(NmcError);
    try {
      readBundle(missing);
    } catch (e) {
      expect((e as NmcError).file).toBe(missing);
      expect((e as NmcError).message).toMatch(/ENOENT/);
    }
    const bad = join(dir, "bad.nmb");
    const bytes = small.slice();
    bytes[100]! ^= 1;
    writeFileSync(bad, bytes);
    try {
      readBundle(bad);
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(NmcError);
      expect((e as NmcError).file).toBe(bad);
      expect((e as NmcError).format()).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: byte \\d+: `));
    }
    const noDir = join(dir, "no", "such", "dir.nmb");
    expect(() => writeBundle(noDir, SMALL)).toThrow(NmcError);
  });
});

describe("bundle with a real IR graph", () => {
  it("carries encodeGraph(graph) and gives the graph back", () => {
    const gb = new GraphBuilder("tiny");
    const x = gb.input("x", 2, "values");
    const d = gb.dense("d", 3, "relu", Float32Array.from([0.1, -0.2, 0.3]));
    gb.project("d.kernel", x, d, "x", csrFromDense(Float32Array.from([1, 0, -2, 0.5, 0, 3]), 2, 3));
    gb.outputs.push(d.name);
    const g = gb.build();
    const bytes = encodeBundle(input([irSection(g), { name: "weights.core0", kind: "i8", data: seq(12) }], {
      modelName: "tiny", target: "golden", cores: [{ id: 0, sectionNames: ["weights.core0"] }],
    }));
    const b = decodeBundle(bytes, FILE);
    expect(b.sections.get(IR_SECTION)!.kind).toBe(IR_SECTION_KIND);
    const back = decodeGraph(b.sections.get(IR_SECTION)!.data);
    expect(printGraph(back)).toBe(printGraph(g));
    expect(Buffer.from(encodeGraph(back)).equals(Buffer.from(encodeGraph(g)))).toBe(true);
    expect(printGraph(bundleGraph(b, FILE))).toBe(printGraph(g));
    // an IR section that is not a graph is reported against the section
    const junk = decodeBundle(encodeBundle(input([{ name: IR_SECTION, kind: IR_SECTION_KIND, data: bytesOf(0xff, 0xff, 0xff, 0xff) }])));
    expect(() => bundleGraph(junk, FILE)).toThrow(NmcError);
    try {
      bundleGraph(junk, FILE);
    } catch (e) {
      expect((e as NmcError).node).toBe(`section ${IR_SECTION}`);
      expect((e as NmcError).file).toBe(FILE);
    }
  });
});
