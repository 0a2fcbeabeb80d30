// Inputs beyond .npy: .npz archives, JSON arrays, event lists (CSV, structured .npy) and readInput's choice
// of reader. The fixtures in test/fixtures/inputs were written by NumPy 2.4:
//   np.savez('numpy-savez.npz', x=np.arange(6, dtype='<f4').reshape(1, 2, 3), y=np.array([1, 2], dtype='>i8'))
//   np.savez_compressed('numpy-savez-compressed.npz', np.ones((2, 2)), x2=np.zeros(3))
//   ev = np.zeros(3, dtype=[('t', '<f8'), ('channel', '<i4'), ('value', '<f4')])
//   ev['t'] = [0.1, 0.25, 0.3]; ev['channel'] = [0, 2, 2]; ev['value'] = [1, 2, 3]; np.save('numpy-events.npy', ev)
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { NmcError } from "../../ir/errors.js";
import { parseEventsCsv, readEventsCsv, tickOf } from "../../runtime/io/events.js";
import { readInput, splitSpec } from "../../runtime/io/inputs.js";
import { parseJsonInput } from "../../runtime/io/json-input.js";
import { ndarray } from "../../runtime/io/ndarray.js";
import { encodeNpy } from "../../runtime/io/npy.js";
import { readNpz } from "../../runtime/io/npz.js";
import { rawNpy, zip } from "../support/input-files.js";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "inputs");
const dir = mkdtempSync(join(tmpdir(), "nmc-inputs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tmp(name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function nmcError(f: () => unknown): NmcError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(NmcError);
    return e as NmcError;
  }
  throw new Error("expected an NmcError");
}

const X = ndarray("f4", [2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]));
const Y = ndarray("i4", [4], Int32Array.from([7, 8, 9, 10]));

describe(".npz", () => {
  for (const deflate of [false, true]) {
    it(`reads ${deflate ? "deflated" : "stored"} members by key`, () => {
      const f = tmp(`a-${deflate}.npz`, zip([{ name: "y.npy", data: encodeNpy(Y), deflate }, { name: "x.npy", data: encodeNpy(X), deflate }]));
      const m = readNpz(f);
      expect([...m.keys()]).toEqual(["y", "x"]);
      expect(Array.from(m.get("x")!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(m.get("x")!.shape).toEqual([2, 3]);
      expect(Array.from(m.get("y")!.data as Int32Array)).toEqual([7, 8, 9, 10]);
      // readInput: the member named x by default, another with :name.
      const d = readInput(f, { channels: 3 });
      expect(d.label).toBe(`${f}:x`);
      expect(Array.from(d.data)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(d.dtype).toBe("f4");
      const e = readInput(`${f}:y`, { channels: 3 });
      expect(Array.from(e.data)).toEqual([7, 8, 9, 10]);
      expect(readInput(`${f}:y.npy`, { channels: 3 }).shape).toEqual([4]);
    });
  }

  it("takes the first member when there is no x", () => {
    const f = tmp("first.npz", zip([{ name: "arr_0.npy", data: encodeNpy(Y) }, { name: "arr_1.npy", data: encodeNpy(X) }]));
    expect(readInput(f, { channels: 1 }).label).toBe(`${f}:arr_0`);
  });

  it("reads what NumPy's savez and savez_compressed write (zip64 local headers)", () => {
    const a = readNpz(join(FIXTURES, "numpy-savez.npz"));
    expect(Array.from(a.get("x")!.data as Float32Array)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(a.get("x")!.shape).toEqual([1, 2, 3]);
    expect(Array.from(a.get("y")!.data as BigInt64Array)).toEqual([1n, 2n]);
    const b = readNpz(join(FIXTURES, "numpy-savez-compressed.npz"));
    expect(Array.from(b.get("arr_0")!.data as Float64Array)).toEqual([1, 1, 1, 1]);
    expect(b.get("x2")!.shape).toEqual([3]);
  });

  it("splits file.npz:member specs only after .npz", () => {
    expect(splitSpec("d/a.npz:x_test")).toEqual({ file: "d/a.npz", member: "x_test" });
    expect(splitSpec("d/a.npz")).toEqual({ file: "d/a.npz" });
    expect(splitSpec("C:/data/x.npy")).toEqual({ file: "C:/data/x.npy" });
  });

  it("names file, member and byte offset on corruption", () => {
    const good = zip([{ name: "x.npy", data: encodeNpy(X), deflate: false }]);
    // A flipped byte in the member's data: CRC mismatch at the data's offset (30 + name length).
    const bad = good.slice();
    bad[30 + 5 + 100] ^= 0xff;
    let e = nmcError(() => readNpz(tmp("crc.npz", bad)));
    expect(e.file).toMatch(/crc\.npz$/);
    expect(e.path).toBe("byte 35");
    expect(e.message).toMatch(/CRC-32.*"x\.npy"/);
    // Truncated: no end-of-central-directory record.
    e = nmcError(() => readNpz(tmp("trunc.npz", good.subarray(0, good.length - 30))));
    expect(e.message).toMatch(/end-of-central-directory/);
    expect(e.path).toBe(`byte ${good.length - 30}`);
    // Corrupt deflate stream.
    const d = zip([{ name: "x.npy", data: encodeNpy(X), deflate: true }]);
    d.fill(0xff, 35, 45);
    e = nmcError(() => readNpz(tmp("inflate.npz", d)));
    expect(e.path).toBe("byte 35");
    expect(e.message).toMatch(/x\.npy/);
    // A member that is not .npy: the byte offset inside the member, named.
    e = nmcError(() => readNpz(tmp("notnpy.npz", zip([{ name: "x.npy", data: new TextEncoder().encode("hello") }]))));
    expect(e.path).toBe('member "x.npy": byte 0');
    expect(e.message).toMatch(/not a NumPy \.npy file/);
    // Not a zip at all.
    e = nmcError(() => readNpz(tmp("plain.npz", "hello world")));
    expect(e.path).toBe("byte 0");
    // Unknown member.
    e = nmcError(() => readInput(`${tmp("m.npz", good)}:nope`, { channels: 3 }));
    expect(e.expected).toBe("one of x");
    expect(e.found).toBe("nope");
  });
});

describe("JSON inputs", () => {
  it("reads nested rectangular arrays as f8", () => {
    const a = parseJsonInput("[[[0, 1.5], [2, -1]]]");
    expect(a.shape).toEqual([1, 2, 2]);
    expect(Array.from(a.data as Float64Array)).toEqual([0, 1.5, 2, -1]);
    const f = tmp("x.json", "[[1, 2, 3], [4, 5, 6]]\n");
    const r = readInput(f, { channels: 3 });
    expect(r.shape).toEqual([2, 3]);
    expect(r.dtype).toBe("json");
    expect(parseJsonInput("[[], []]").shape).toEqual([2, 0]);
  });

  it("names the JSON path of the first ragged or non-number element", () => {
    let e = nmcError(() => parseJsonInput("[[1, 2], [3]]", "r.json"));
    expect(e.path).toBe("$[1]");
    expect(e.message).toMatch(/not rectangular/);
    expect(e.expected).toMatch(/length 2/);
    e = nmcError(() => parseJsonInput('[[1, 2], [3, "4"]]'));
    expect(e.path).toBe("$[1][1]");
    expect(e.found).toMatch(/string "4"/);
    e = nmcError(() => parseJsonInput("[[1, 2], [3, [4]]]"));
    expect(e.path).toBe("$[1][1]");
    e = nmcError(() => parseJsonInput("[[1, 2], 3]"));
    expect(e.path).toBe("$[1]");
    e = nmcError(() => parseJsonInput('{"x": 1}'));
    expect(e.path).toBe("$");
    e = nmcError(() => parseJsonInput("[[1, 2],\n [3, 4,]]", "s.json"));
    expect(e.message).toMatch(/not valid JSON/);
    expect(e.path).toMatch(/^line 2, column \d+ \(character \d+\)$/);
  });
});

describe("event lists", () => {
  it("converts CSV events to dense [1, T, C] ticks; duplicates sum; value defaults to 1", () => {
    const r = parseEventsCsv("t,channel,value\n0,1,1\n2,0,-1\n2,0,0.5\n", { channels: 2 });
    expect(r.shape).toEqual([1, 3, 2]);
    expect(Array.from(r.data)).toEqual([0, 1, 0, 0, -0.5, 0]);
    const s = parseEventsCsv("channel,t\r\n1,0.25\r\n1,0.3\r\n0,0.1\r\n", { channels: 2, dt: 0.1, ticks: 5 });
    expect(s.shape).toEqual([1, 5, 2]);
    expect(Array.from(s.data)).toEqual([0, 0, 1, 0, 0, 1, 0, 1, 0, 0]); // 0.3 / 0.1 is tick 3, not 2.999…
    expect(tickOf(0.3, 0.1)).toBe(3);
    expect(tickOf(0.29, 0.1)).toBe(2);
  });

  it("accepts the example's events.csv and matches the first digit of x.npy", () => {
    const root = join(FIXTURES, "..", "..", "..", "examples", "ssm-events", "inputs");
    const ev = readInput(join(root, "events.csv"), { channels: 28, dt: 1, ticks: 56 });
    const x = readInput(join(root, "x.npy"), { channels: 28 });
    expect(ev.shape).toEqual([1, 56, 28]);
    expect(ev.dtype).toBe("events");
    expect(Array.from(ev.data)).toEqual(Array.from(x.data.subarray(0, 56 * 28)));
  });

  it("reports CSV errors with their line", () => {
    const opts = { channels: 4 };
    let e = nmcError(() => parseEventsCsv("t,channel\n0,1\n1,4\n", opts, "e.csv"));
    expect([e.file, e.path, e.expected, e.found]).toEqual(["e.csv", "line 3", "an integer in [0, 4)", "4"]);
    e = nmcError(() => parseEventsCsv("t,channel\n0,1\n\n1,x\n", opts));
    expect(e.path).toBe("line 4, column channel");
    e = nmcError(() => parseEventsCsv("t,channel\n0,1,1\n", opts));
    expect(e.path).toBe("line 2");
    expect(e.expected).toMatch(/2 fields/);
    e = nmcError(() => parseEventsCsv("0,1\n", opts));
    expect(e.message).toMatch(/no header/);
    e = nmcError(() => parseEventsCsv("t,chan\n", opts));
    expect(e.message).toMatch(/unknown column "chan"/);
    e = nmcError(() => parseEventsCsv("t,channel\n0.5,1\n", opts));
    expect(e.hint).toMatch(/--dt/);
    e = nmcError(() => parseEventsCsv("t,channel\n-1,1\n", { ...opts, dt: 1 }));
    expect(e.path).toBe("line 2");
    e = nmcError(() => parseEventsCsv("t,channel\n9,1\n", { ...opts, ticks: 5 }));
    expect(e.found).toBe("tick 9 (t = 9)");
    e = nmcError(() => parseEventsCsv("t,channel\n", opts));
    expect(e.message).toMatch(/no events/);
  });

  it("reads structured .npy event arrays (NumPy's own, and with padding and other dtypes)", () => {
    const r = readInput(join(FIXTURES, "numpy-events.npy"), { channels: 3, dt: 0.1 });
    expect(r.shape).toEqual([1, 4, 3]);
    expect(Array.from(r.data)).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 3]);
    expect(r.dtype).toBe("events");
    // Big-endian fields and a padding field, as np.dtype(..., align=True) writes them.
    const header = "{'descr': [('t', '>i8'), ('channel', '<u2'), ('', '|V6')], 'fortran_order': False, 'shape': (2,), }";
    const rec = Buffer.alloc(32);
    rec.writeBigInt64BE(1n, 0);
    rec.writeUInt16LE(1, 8);
    rec.writeBigInt64BE(3n, 16);
    rec.writeUInt16LE(0, 24);
    const f = tmp("padded.npy", rawNpy(header, rec));
    const p = readInput(f, { channels: 2 });
    expect(Array.from(p.data)).toEqual([0, 0, 0, 1, 0, 0, 1, 0]);
    // Errors name the record and its byte offset.
    const e = nmcError(() => readInput(f, { channels: 1 }));
    expect(e.path).toMatch(/^record 0 \(byte \d+\)$/);
    const noT = tmp("not-events.npy", rawNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", Buffer.alloc(4)));
    expect(nmcError(() => readInput(noT, { channels: 1 })).found).toBe("fields a");
  });

  it("streams a 1,000,000-event CSV in bounded memory", () => {
    const N = 1_000_000, C = 16, T = 5000;
    const f = join(dir, "million.csv");
    const fd = openSync(f, "w");
    const expected = new Float64Array(T * C);
    try {
      writeSync(fd, "t,channel,value\n");
      let block: string[] = [];
      for (let i = 0; i < N; i++) {
        const t = (i * 7919) % T, c = (i * 31) % C, v = (i % 5) - 2;
        expected[t * C + c] += v;
        block.push(`${t},${c},${v}`);
        if (block.length === 10000) {
          writeSync(fd, block.join("\n") + "\n");
          block = [];
        }
      }
    } finally {
      closeSync(fd);
    }
    global.gc?.();
    const before = process.memoryUsage();
    let peak = 0;
    const r = readEventsCsv(f, { channels: C });
    const after = process.memoryUsage();
    peak = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    expect(r.events).toBe(N);
    expect(r.shape).toEqual([1, T, C]);
    expect(Array.from(r.data)).toEqual(Array.from(expected));
    // The file is ~10 MB of text; the output 640 KB. Reading it whole as strings would cost far more than this
    // loose bound; a generous margin is left for garbage not yet collected.
    expect(peak).toBeLessThan(64 * 1024 * 1024);
  }, 60_000);
});

describe("readInput", () => {
  it("reads .npy exactly as before and sniffs unfamiliar extensions", () => {
    const f = tmp("x.npy", encodeNpy(X));
    const r = readInput(f, { channels: 3 });
    expect(r).toMatchObject({ shape: [2, 3], dtype: "f4", label: f, format: "npy" });
    expect(readInput(tmp("x.bin", encodeNpy(X)), { channels: 3 }).format).toBe("npy");
    expect(readInput(tmp("x.txt", "[[1, 2, 3]]"), { channels: 3 }).format).toBe("json");
    expect(readInput(tmp("ev.dat", "t,channel\n0,1\n"), { channels: 3 }).format).toBe("csv");
    const e = nmcError(() => readInput(join(dir, "missing.npy"), { channels: 3 }));
    expect(e.message).toMatch(/cannot read \.npy file: ENOENT/);
  });
});
