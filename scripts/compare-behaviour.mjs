#!/usr/bin/env node
// Before/after behaviour comparison of two built nmc CLIs (issue #17: "behaviour unchanged").
//
//   node scripts/compare-behaviour.mjs <A/dist/cli/main.js> <B/dist/cli/main.js> [--out report.json] [--serial] [--keep]
//     [--allow-new .json.path ...]   (a JSON field B prints and A does not, accepted and reported)
//
// Runs one fixed list of nmc commands with A and with B (each side in its own fresh temporary directory, the
// model and input paths absolute into the examples/ of the repository this script lives in, the same for both),
// then compares exit codes, stdout, stderr, the JSON they print and the files they write. Exit 0 when every
// comparison is equal after the normalization below, 1 when anything differs (each difference names the command,
// the stream/file and the JSON path or byte/element, with both values), 2 for a usage error.
//
// Normalization is explicit and printed at the start (and stored in the report): the VOLATILE_KEYS are removed
// from every JSON object wherever they occur, the SECTION_RULES apply to `nmc inspect --json`'s section table,
// the TEXT_RULES rewrite wall-clock times, dates and cache flags in text and JSON strings, and the PATH rules
// rewrite each side's own directories (its temp directory, its package root) to placeholders. Everything else
// must be equal: numbers exactly (===), strings, arrays in order, object keys as sets, files byte for byte.
//
// Plain Node ESM, no dependencies, no build step. Sides A and B run concurrently (one command at a time each)
// unless --serial; the whole list takes about a minute or two per side on 2 cores.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const EXAMPLES = path.join(REPO, "examples");
const COMMAND_TIMEOUT_S = 180;

// ---------------------------------------------------------------------------------------------- normalization

/** JSON keys removed wherever they occur, in every JSON compared (stdout JSON and JSON files). */
const VOLATILE_KEYS = [
  ["seconds", "wall-clock time: the compile report's per-stage `seconds` (also inside `nmc inspect`'s `report` and the demo's `compile`), `nmc run --json` seconds, the demo's `seconds`"],
  ["created_at", "date the bundle was written (bundle manifest, `nmc inspect --json`)"],
  ["cached", "CUDA build-cache hit flag (each side also gets its own empty NMC_CUDA_CACHE)"],
];

/** Rules for the `sections` table of `nmc inspect --json` (each entry: name, kind, offset, length, sha256). */
const SECTION_RULES = [
  ["names", "the list of section names, in order, must be equal"],
  ["offset", "not compared for any section (the offsets follow the `report` section, whose length varies with the wall-clock seconds it holds)"],
  ["report", "sha256 and length not compared (it holds wall-clock seconds); its content is compared as the decoded `report` object of `nmc inspect --json`, minus the volatile keys"],
  ["spinnaker2.mapping", "only its presence and position are compared (kind, length, sha256 not): its layout may legitimately change (a new versioned JSON); what it decides is compared through the compile report's `mapping`, `nmc run`'s per-PE figures and outputs"],
  ["every other section", "(ir, ir.float, cuda.source, cuda.source.float, and any new one) kind, length and sha256 must be equal"],
];

/** Rewrites of text (stdout, stderr) and of every JSON string value, in this order. */
const TEXT_RULES = [
  [/^\[\d+(?:\.\d+)? s\] /gm, "[<s> s] ", "nmc demo's elapsed-time prefix of each step line"],
  [/\bin \d+(?:\.\d+)? s\b/g, "in <s> s", "nmc demo's `wrote … in 4.4 s`"],
  [/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, "<date>", "ISO dates (bundle creation time in `nmc inspect`)"],
  [/, cached build/g, "", "CUDA build-cache hit in the backend name"],
];

/**
 * Per-side path rewrites (longest first), so that each side's own directories compare equal. `anchored`: only at
 * the start of a JSON string value (the demo's `example` field, relative to the CLI's package root), never in text.
 */
function pathRules(side) {
  const rules = [
    [side.work, "<work>", "this side's temporary working directory", false],
    [EXAMPLES, "<examples>", "the examples folder all inputs come from (the same for both sides; before <nmc>, which may contain it)", false],
    [side.root, "<nmc>", "the CLI's package root", false],
    [path.relative(side.root, EXAMPLES), "<examples>", "the examples folder relative to the CLI's package root (nmc demo's `example`), at the start of a JSON string only", true],
  ].filter(([from]) => from && from !== "." && from.length > 1);
  return rules.sort((a, b) => b[0].length - a[0].length);
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function normText(text, side, jsonString = false) {
  let t = text;
  for (const [from, to, , anchored] of side.pathRules) {
    if (anchored && !jsonString) continue;
    t = t.replace(new RegExp(`${anchored ? "^" : "(?<![\\w./-])"}${escapeRe(from)}(?![\\w-])`, "g"), to);
  }
  for (const [re, to] of TEXT_RULES) t = t.replace(re, to);
  return t;
}

/** Deep copy with VOLATILE_KEYS removed and strings normalized; counts what it removed in `dropped`. */
function normJson(v, side, dropped) {
  if (typeof v === "string") return normText(v, side, true);
  if (Array.isArray(v)) return v.map((x) => normJson(x, side, dropped));
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (VOLATILE_KEYS.some(([key]) => key === k)) { dropped[k] = (dropped[k] ?? 0) + 1; continue; }
      out[k] = normJson(x, side, dropped);
    }
    return out;
  }
  return v;
}

/** `nmc inspect --json`: apply SECTION_RULES to its section table (after normJson). */
function normInspect(j, dropped) {
  if (!j || !Array.isArray(j.sections)) return j;
  const sections = j.sections.map((s) => {
    const { offset, ...rest } = s;
    if (offset !== undefined) dropped["sections[].offset"] = (dropped["sections[].offset"] ?? 0) + 1;
    if (s.name === "spinnaker2.mapping") { dropped["sections[spinnaker2.mapping]"] = (dropped["sections[spinnaker2.mapping]"] ?? 0) + 1; return { name: s.name }; }
    if (s.name === "report") { dropped["sections[report].sha256,length"] = (dropped["sections[report].sha256,length"] ?? 0) + 1; return { name: s.name, kind: s.kind }; }
    return rest;
  });
  // By name, so that a difference reads `.sections.byName.ir.sha256`; the order is compared through `names`.
  return { ...j, sections: { names: sections.map((s) => s.name), byName: Object.fromEntries(sections.map(({ name, ...s }) => [name, s])) } };
}

// ---------------------------------------------------------------------------------------------- the commands

/**
 * The fixed list. `group` is the working directory (fresh, inside the side's temp dir); every model and input path
 * is absolute into this repository's examples/, the same for both sides (also nmc demo's --example: its default,
 * examples/egru-smnist, would resolve to each CLI's own package, and the IR records the model's path);
 * `check` says what is compared: exit code always, then stdout as "json" | "inspect" | "text", stderr as text,
 * and files (npy: byte for byte with an element-wise explanation; json: normalized).
 */
function commandList() {
  const cmds = [];
  const add = (group, args, check) => cmds.push({ id: `${group}: nmc ${args.join(" ")}`, group, args, check });
  const ex = (name, ...p) => path.join(EXAMPLES, name, ...p);

  // nmc demo writes nmc-demo/{model.nmb,report.json,report.html} (its default --out) and prints its report.
  add("demo", ["demo", "--example", ex("egru-smnist")], { stdout: "text", files: { "nmc-demo/report.json": "json" } });
  add("demo", ["inspect", "nmc-demo/model.nmb", "--json"], { stdout: "inspect" });
  add("hw", ["hw", "--json"], { stdout: "json" });

  for (const name of ["egru-smnist", "ssm-events"]) {
    const model = ex(name, "model.json"), x = ex(name, "inputs", "x.npy"), y = ex(name, "inputs", "y.npy");
    for (const target of ["golden", "spinnaker2", "cuda"]) {
      const g = `${name}/${target}`;
      add(g, ["compile", model, "--target", target, "-o", "m.nmb", "--json"], { stdout: "json", bundle: "m.nmb" });
      add(g, ["inspect", "m.nmb", "--json"], { stdout: "inspect" });
      add(g, ["run", "m.nmb", "--input", x, "--labels", y, "--json", "--out", "y.npy"], { stdout: "json", files: { "y.npy": "npy" } });
      add(g, ["verify", "m.nmb", "--input", x, "--against", "golden"], { stdout: "text" });
      if (target === "cuda") add(g, ["verify", "m.nmb", "--input", x, "--against", "cuda"], { stdout: "text" });
      if (target === "golden" && name === "egru-smnist") add(g, ["verify", "m.nmb", "--input", x, "--against", "float", "--json"], { stdout: "json" });
      if (target === "spinnaker2" && name === "ssm-events") {
        // The README's event-file input (inputs/events.csv, one sequence; t counts ticks).
        add(g, ["run", "m.nmb", "--input", ex(name, "inputs", "events.csv"), "--dt", "1", "--ticks", "56", "--json", "--out", "ye.npy"], { stdout: "json", files: { "ye.npy": "npy" } });
      }
    }
    add(`${name}/float`, ["run", model, "--input", x, "--out", "yf.npy"], { stdout: "text", files: { "yf.npy": "npy" } });
    add(`${name}/ir`, ["ir", model], { stdout: "text" });
  }
  return cmds;
}

// ---------------------------------------------------------------------------------------------- running

function runOne(side, cmd) {
  const cwd = path.join(side.work, cmd.group);
  mkdirSync(cwd, { recursive: true });
  const env = { ...process.env, NMC_CUDA_CACHE: path.join(side.work, ".cuda-cache"), NO_COLOR: "1", FORCE_COLOR: "0", TZ: "UTC" };
  delete env.NMC_DEBUG;
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [side.cli, ...cmd.args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const out = [], err = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => err.push(d));
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill("SIGKILL"); }, COMMAND_TIMEOUT_S * 1000);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        cwd, exit: timedOut ? `timeout after ${COMMAND_TIMEOUT_S} s` : code ?? `signal ${signal}`,
        seconds: (performance.now() - t0) / 1000,
        stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
}

async function runSide(side, cmds, onDone) {
  const results = [];
  for (const c of cmds) {
    const r = await runOne(side, c);
    results.push(r);
    onDone?.();
  }
  return results;
}

// ---------------------------------------------------------------------------------------------- comparing

const show = (v) => {
  const s = v === undefined ? "(absent)" : JSON.stringify(v);
  return s.length > 300 ? s.slice(0, 300) + `… (${s.length} chars)` : s;
};
const keyPath = (p, k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? `${p}.${k}` : `${p}[${JSON.stringify(k)}]`);

function numEq(a, b) {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

/**
 * JSON paths (".mapping") that B may add and A lacks (--allow-new KEY, repeatable): a field a newer nmc
 * prints in addition, named on the command line so that the run says what it accepted.
 */
const allowedNew = new Set();

/** Pushes {path, a, b} for every difference of two normalized JSON values. */
function diffJson(a, b, p, out) {
  if (typeof a === "number" && typeof b === "number") { if (!numEq(a, b)) out.push({ path: p || "(root)", a, b }); return; }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) out.push({ path: `${p}.length`, a: a.length, b: b.length });
    for (let i = 0; i < Math.min(a.length, b.length); i++) diffJson(a[i], b[i], `${p}[${i}]`, out);
    return;
  }
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (!(k in a) && k in b && allowedNew.has(keyPath(p, k))) continue;
      if (!(k in a) || !(k in b)) out.push({ path: keyPath(p, k), a: a[k], b: b[k] });
      else diffJson(a[k], b[k], keyPath(p, k), out);
    }
    return;
  }
  if (a !== b) out.push({ path: p || "(root)", a, b });
}

function diffText(a, b, what, out) {
  if (a === b) return;
  const lines = (t) => (t === "" ? [] : t.replace(/\n$/, "").split("\n"));
  const la = lines(a), lb = lines(b);
  let shown = 0;
  for (let i = 0; i < Math.max(la.length, lb.length) && shown < 5; i++) {
    if (la[i] !== lb[i]) { out.push({ path: `${what} line ${i + 1}`, a: la[i], b: lb[i] }); shown++; }
  }
  if (la.length !== lb.length) out.push({ path: `${what} line count`, a: la.length, b: lb.length });
}

/** A minimal .npy reader: {descr, shape, data} (data: typed array) or null. */
function readNpy(buf) {
  try {
    if (buf.length < 10 || buf.toString("latin1", 0, 6) !== "\x93NUMPY") return null;
    const major = buf[6];
    const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
    const hstart = major === 1 ? 10 : 12;
    const header = buf.toString("latin1", hstart, hstart + hlen);
    const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
    const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? "").split(",").map((s) => s.trim()).filter(Boolean).map(Number);
    const body = buf.subarray(hstart + hlen);
    const ab = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
    const ctor = { "<f4": Float32Array, "<f8": Float64Array, "<i4": Int32Array, "<i8": BigInt64Array, "<i2": Int16Array, "|i1": Int8Array, "|u1": Uint8Array }[descr];
    return ctor ? { descr, shape, data: new ctor(ab) } : { descr, shape, data: null };
  } catch {
    return null;
  }
}

function unravel(i, shape) {
  const idx = [];
  for (let d = shape.length - 1; d >= 0; d--) { idx.unshift(i % shape[d]); i = Math.floor(i / shape[d]); }
  return `[${idx.join(", ")}]`;
}

function diffNpy(a, b, file, out) {
  if (a.equals(b)) return { bytes: a.length, sha256: createHash("sha256").update(a).digest("hex") };
  const na = readNpy(a), nb = readNpy(b);
  if (na && nb && na.data && nb.data && na.descr === nb.descr && JSON.stringify(na.shape) === JSON.stringify(nb.shape) && na.data.length === nb.data.length) {
    let n = 0, first = -1, maxAbs = 0;
    for (let i = 0; i < na.data.length; i++) {
      const x = na.data[i], y = nb.data[i];
      if (!(x === y || (Number.isNaN(x) && Number.isNaN(y)))) {
        if (first < 0) first = i;
        n++;
        if (typeof x === "number") maxAbs = Math.max(maxAbs, Math.abs(x - y));
      }
    }
    if (first >= 0) {
      out.push({ path: `${file}${unravel(first, na.shape)} (first of ${n} differing elements of ${na.data.length}, ${na.descr} ${JSON.stringify(na.shape)}, max |a-b| ${maxAbs})`, a: Number(na.data[first]), b: Number(nb.data[first]) });
      return null;
    }
  }
  if (na && nb && (na.descr !== nb.descr || JSON.stringify(na.shape) !== JSON.stringify(nb.shape))) {
    out.push({ path: `${file} (npy dtype, shape)`, a: `${na.descr} ${JSON.stringify(na.shape)}`, b: `${nb.descr} ${JSON.stringify(nb.shape)}` });
    return null;
  }
  let i = 0;
  while (i < Math.min(a.length, b.length) && a[i] === b[i]) i++;
  out.push({ path: `${file} byte ${i} (sizes ${a.length} and ${b.length})`, a: a[i], b: b[i] });
  return null;
}

function parseJson(text) {
  try { return { ok: true, value: JSON.parse(text) }; } catch (e) { return { ok: false, error: String(e) }; }
}

function compare(cmd, ra, rb, A, B, dropped) {
  const diffs = [], compared = ["exit code"];
  const files = {};
  if (ra.exit !== rb.exit) diffs.push({ path: "exit code", a: ra.exit, b: rb.exit });

  if (cmd.check.stdout === "json" || cmd.check.stdout === "inspect") {
    const ja = parseJson(ra.stdout), jb = parseJson(rb.stdout);
    if (ja.ok && jb.ok) {
      let na = normJson(ja.value, A, dropped), nb = normJson(jb.value, B, {});
      if (cmd.check.stdout === "inspect") { na = normInspect(na, dropped); nb = normInspect(nb, {}); }
      compared.push(cmd.check.stdout === "inspect" ? "stdout JSON (inspect: manifest, quantization, populations, projections, sections per the section rules, report)" : "stdout JSON");
      const d = [];
      diffJson(na, nb, "", d);
      for (const x of d) diffs.push({ ...x, path: `stdout JSON ${x.path}` });
    } else {
      compared.push("stdout text (not JSON on at least one side)");
      if (ja.ok !== jb.ok) diffs.push({ path: "stdout is JSON", a: ja.ok ? "yes" : ja.error, b: jb.ok ? "yes" : jb.error });
      diffText(normText(ra.stdout, A), normText(rb.stdout, B), "stdout", diffs);
    }
  } else {
    compared.push("stdout text");
    diffText(normText(ra.stdout, A), normText(rb.stdout, B), "stdout", diffs);
  }
  compared.push("stderr text");
  diffText(normText(ra.stderr, A), normText(rb.stderr, B), "stderr", diffs);

  for (const [file, kind] of Object.entries(cmd.check.files ?? {})) {
    const fa = path.join(ra.cwd, file), fb = path.join(rb.cwd, file);
    const ea = existsSync(fa), eb = existsSync(fb);
    if (!ea || !eb) { diffs.push({ path: `${file} exists`, a: ea, b: eb }); continue; }
    const ba = readFileSync(fa), bb = readFileSync(fb);
    if (kind === "npy") {
      compared.push(`${file} byte for byte`);
      const same = diffNpy(ba, bb, file, diffs);
      if (same) files[file] = same;
    } else {
      compared.push(`${file} (JSON, normalized)`);
      const ja = parseJson(ba.toString("utf8")), jb = parseJson(bb.toString("utf8"));
      if (!ja.ok || !jb.ok) { diffs.push({ path: `${file} parses as JSON`, a: ja.ok || ja.error, b: jb.ok || jb.error }); continue; }
      const d = [];
      diffJson(normJson(ja.value, A, dropped), normJson(jb.value, B, {}), "", d);
      for (const x of d) diffs.push({ ...x, path: `${file} ${x.path}` });
    }
  }
  if (cmd.check.bundle) {
    // Recorded for information only: the bundle bytes hold created_at and the wall-clock seconds of the report.
    for (const [k, r] of [["a", ra], ["b", rb]]) {
      const f = path.join(r.cwd, cmd.check.bundle);
      if (existsSync(f)) files[`${cmd.check.bundle} (${k}, not compared)`] = { bytes: statSync(f).size, sha256: createHash("sha256").update(readFileSync(f)).digest("hex") };
    }
  }
  return { compared, diffs, files };
}

// ---------------------------------------------------------------------------------------------- main

function usage(msg) {
  if (msg) process.stderr.write(`compare-behaviour: ${msg}\n`);
  process.stderr.write("usage: node scripts/compare-behaviour.mjs <A/dist/cli/main.js> <B/dist/cli/main.js> [--out report.json] [--serial] [--keep] [--allow-new .json.path]\n");
  return 2;
}

function packageRootOf(cli) {
  let d = path.dirname(cli);
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(d, "package.json"))) return d;
    d = path.dirname(d);
  }
  return path.dirname(cli);
}

async function main() {
  const args = process.argv.slice(2);
  let out = null, serial = false, keep = false;
  const clis = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--out") { out = args[++i]; if (!out) return usage("--out needs a file"); }
    else if (args[i] === "--serial") serial = true;
    else if (args[i] === "--keep") keep = true;
    else if (args[i] === "--allow-new") { const k = args[++i]; if (!k) return usage("--allow-new needs a JSON path such as .mapping"); allowedNew.add(k); }
    else if (args[i] === "-h" || args[i] === "--help") { usage(); return 0; }
    else if (args[i].startsWith("-")) return usage(`unknown option ${args[i]}`);
    else clis.push(path.resolve(args[i]));
  }
  if (clis.length !== 2) return usage("give exactly two CLI paths");
  for (const c of clis) if (!existsSync(c)) return usage(`no such file: ${c}`);

  const tmp = mkdtempSync(path.join(os.tmpdir(), "nmc-compare-"));
  const sides = ["A", "B"].map((name, i) => {
    const side = { name, cli: clis[i], root: packageRootOf(clis[i]), work: path.join(tmp, name) };
    mkdirSync(side.work);
    side.pathRules = pathRules(side);
    return side;
  });
  const [A, B] = sides;
  const cmds = commandList();

  const say = (s = "") => process.stdout.write(s + "\n");
  say(`compare-behaviour: A = ${A.cli}`);
  say(`                   B = ${B.cli}`);
  say(`examples: ${EXAMPLES}; work: ${tmp}; ${cmds.length} commands per side${serial ? ", serial" : ", A and B concurrently"}`);
  say("normalization (everything else must be equal):");
  say("  volatile JSON keys, removed wherever they occur:");
  for (const [k, why] of VOLATILE_KEYS) say(`    ${k.padEnd(12)} ${why}`);
  say("  nmc inspect --json sections:");
  for (const [k, why] of SECTION_RULES) say(`    ${k.padEnd(20)} ${why}`);
  say("  text and JSON strings:");
  for (const [re, to, why] of TEXT_RULES) say(`    ${String(re).padEnd(48)} -> ${JSON.stringify(to).padEnd(12)} ${why}`);
  for (const s of sides) for (const [from, to, why] of s.pathRules) say(`    ${s.name}: ${from} -> ${to} (${why})`);
  say("  not compared: bundle file bytes (sha256, size: they hold created_at and the wall-clock seconds; recorded in the report), report.html");
  say();

  const t0 = performance.now();
  let done = 0;
  const tick = () => { done++; if (process.stderr.isTTY) process.stderr.write(`\r${done}/${2 * cmds.length} commands`); };
  let ra, rb;
  if (serial) { ra = await runSide(A, cmds, tick); rb = await runSide(B, cmds, tick); }
  else [ra, rb] = await Promise.all([runSide(A, cmds, tick), runSide(B, cmds, tick)]);
  if (process.stderr.isTTY) process.stderr.write("\r");

  const dropped = {};
  const rows = cmds.map((c, i) => {
    const r = compare(c, ra[i], rb[i], A, B, dropped);
    return {
      id: c.id, group: c.group, args: c.args,
      a: { exit: ra[i].exit, seconds: ra[i].seconds }, b: { exit: rb[i].exit, seconds: rb[i].seconds },
      compared: r.compared, files: r.files, differences: r.diffs,
    };
  });
  const bad = rows.filter((r) => r.differences.length > 0);
  for (const r of rows) {
    say(`${r.differences.length ? "DIFF" : "ok  "}  ${r.id}  (exit ${r.a.exit}/${r.b.exit}; ${r.a.seconds.toFixed(1)}/${r.b.seconds.toFixed(1)} s)`);
  }
  const seconds = (performance.now() - t0) / 1000;
  say();
  say(`volatile keys removed (in A's outputs): ${Object.entries(dropped).map(([k, n]) => `${k} ×${n}`).join(", ") || "none"}`);
  if (allowedNew.size) say(`accepted as new in B (--allow-new): ${[...allowedNew].join(", ")}`);
  if (bad.length) {
    say(`\n${bad.length} of ${rows.length} commands differ:`);
    for (const r of bad) {
      say(`\n  ${r.id}`);
      for (const d of r.differences.slice(0, 8)) say(`    ${d.path}\n      A: ${show(d.a)}\n      B: ${show(d.b)}`);
      if (r.differences.length > 8) say(`    … and ${r.differences.length - 8} more${out ? " (all in the report)" : " (--out writes them all)"}`);
    }
  }
  const report = {
    a: { cli: A.cli, root: A.root }, b: { cli: B.cli, root: B.root }, examples: EXAMPLES, work: tmp,
    normalization: {
      volatileKeys: VOLATILE_KEYS.map(([key, why]) => ({ key, why })),
      sectionRules: SECTION_RULES.map(([section, rule]) => ({ section, rule })),
      textRules: TEXT_RULES.map(([re, to, why]) => ({ pattern: String(re), replacement: to, why })),
      pathRules: Object.fromEntries(sides.map((s) => [s.name, s.pathRules.map(([from, to, why, anchored]) => ({ from, to, why, anchored }))])),
      notCompared: ["bundle file bytes (sha256, size)", "report.html"],
      removedCounts: dropped,
    },
    commands: rows,
    summary: { commands: rows.length, differing: bad.length, equal: bad.length === 0, seconds },
  };
  if (out) { writeFileSync(out, JSON.stringify(report, null, 2) + "\n"); say(`report: ${path.resolve(out)}`); }
  say(bad.length === 0
    ? `SAME: all ${rows.length} commands agree between A and B after normalization (${seconds.toFixed(0)} s)`
    : `DIFFERENT: ${bad.length} of ${rows.length} commands differ (${seconds.toFixed(0)} s); outputs kept in ${tmp}`);
  if (bad.length === 0 && !keep) rmSync(tmp, { recursive: true, force: true });
  return bad.length === 0 ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`compare-behaviour: ${e?.stack ?? e}\n`);
  process.exitCode = 2;
});
