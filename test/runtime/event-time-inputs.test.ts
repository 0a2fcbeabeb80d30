// Inputs of event-time models (runtime/io/event-time.ts): event-ssm's batch (.npz tokens, timesteps, lengths)
// and event lists with its convention (step i: Δt = t[i+1] − t[i], the last event dropped, t converted to ms).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NmcError } from "../../ir/errors.js";
import { readEventTimeInput } from "../../runtime/io/event-time.js";
import { ndarray } from "../../runtime/io/ndarray.js";
import { writeNpz } from "../support/event-ssm.js";
import { rawNpy } from "../support/input-files.js";

const dir = mkdtempSync(join(tmpdir(), "nmc-event-time-"));
const file = (name: string, data: string | Uint8Array) => {
  const f = join(dir, name);
  writeFileSync(f, data);
  return f;
};
const tokens = { channels: 10, tokens: true };

function refusal(f: () => unknown, ...words: string[]): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(NmcError);
    for (const w of words) expect(`${(e as NmcError).message} ${(e as NmcError).path} ${(e as NmcError).expected} ${(e as NmcError).found}`).toContain(w);
    return;
  }
  throw new Error("not refused");
}

describe("event lists: event-ssm's convention", () => {
  it("a CSV in µs: tokens are the channels of all but the last event, Δt the gaps in ms", () => {
    const x = readEventTimeInput(file("a.csv", "t,channel\n100,3\n1100,4\n1100,7\n3600,1\n"), tokens);
    expect(x.shape).toEqual([1, 3]);
    expect(Array.from(x.data)).toEqual([3, 4, 7]);
    expect(Array.from(x.timesteps!)).toEqual([1, 0, 2.5]);
    expect(Array.from(x.lengths!)).toEqual([3]);
    expect(x.events).toBe(4);
    const s = readEventTimeInput(file("b.csv", "channel,t\n3,0.1\n4,1.1\n"), { ...tokens, timeUnit: "s" });
    expect(Array.from(s.timesteps!)).toEqual([1000]);
  });

  it("a structured .npy (t, channel, value) for a value model: one-hot steps of the value", () => {
    const rec = Buffer.alloc(3 * 16);
    [[0, 1, 0.5], [2000, 0, -2], [2500, 2, 1]].forEach(([t, c, v], i) => {
      rec.writeDoubleLE(t, i * 16);
      rec.writeInt32LE(c, i * 16 + 8);
      rec.writeFloatLE(v, i * 16 + 12);
    });
    const f = file("e.npy", rawNpy("{'descr': [('t', '<f8'), ('channel', '<i4'), ('value', '<f4')], 'fortran_order': False, 'shape': (3,), }", rec));
    const x = readEventTimeInput(f, { channels: 3, tokens: false });
    expect(x.shape).toEqual([1, 2, 3]);
    expect(Array.from(x.data)).toEqual([0, 0.5, 0, -2, 0, 0]);
    expect(Array.from(x.timesteps!)).toEqual([2, 0.5]);
  });

  it("refuses decreasing times, one event, channels out of range, and values on a token model", () => {
    refusal(() => readEventTimeInput(file("c.csv", "t,channel\n5,1\n4,2\n"), tokens), "time order", "line 3");
    refusal(() => readEventTimeInput(file("d.csv", "t,channel\n5,1\n"), tokens), "at least two events");
    refusal(() => readEventTimeInput(file("e.csv", "t,channel\n5,10\n6,1\n"), tokens), "out of range", "line 2");
    refusal(() => readEventTimeInput(file("f.csv", "t,channel,value\n5,1,-1\n6,1,1\n"), tokens), "carries no value", "line 2");
  });
});

describe("event-ssm's batch as .npz", () => {
  const tok = ndarray("i4", [2, 4], Int32Array.of(1, 2, 3, -1, 4, -1, -1, -1));
  const ts = ndarray("f4", [2, 4], Float32Array.of(0.5, 1, 2, 0, 3, 0, 0, 0));
  it("tokens, timesteps and lengths; without lengths, a sequence ends after its last token ≥ 0", () => {
    const x = readEventTimeInput(writeNpz(join(dir, "a.npz"), [["tokens", tok], ["timesteps", ts], ["lengths", ndarray("i4", [2], Int32Array.of(3, 1))]]), tokens);
    expect(x.shape).toEqual([2, 4]);
    expect(Array.from(x.lengths!)).toEqual([3, 1]);
    const y = readEventTimeInput(writeNpz(join(dir, "b.npz"), [["tokens", tok], ["integration_timesteps", ts]]), tokens);
    expect(Array.from(y.lengths!)).toEqual([3, 1]);
    expect(Array.from(y.timesteps!)).toEqual(Array.from(ts.data));
  });
  it("refuses missing members, mismatched shapes and lengths out of range, by member", () => {
    refusal(() => readEventTimeInput(writeNpz(join(dir, "c.npz"), [["tokens", tok]]), tokens), "tokens and timesteps", "members tokens");
    refusal(() => readEventTimeInput(writeNpz(join(dir, "d.npz"), [["tokens", tok], ["timesteps", ndarray("f4", [2, 3], new Float32Array(6))]]), tokens), "member timesteps", "[2, 3]");
    refusal(() => readEventTimeInput(writeNpz(join(dir, "e.npz"), [["tokens", tok], ["timesteps", ts], ["lengths", ndarray("i4", [2], Int32Array.of(3, 5))]]), tokens), "lengths, element 1", "[0, 4]");
  });
});
