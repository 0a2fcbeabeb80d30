// Hydra's config composition (the `defaults:` list), the subset event-ssm's configs use, so that `nmc import
// event-ssm --config` takes a repository's own config files (configs/base.yaml, configs/task/<task>.yaml) as well as
// the composed config a run saves (.hydra/config.yaml, which has no defaults list and passes through unchanged).
//
// What is followed (Hydra ≥ 1.1 semantics, https://hydra.cc/docs/advanced/defaults_list/):
// - entries `group: option` (relative to the group of the file that lists them), `/group: option` (from the config
//   root), `_self_` (where the file's own content merges; absent: after its defaults), a plain `name` (a config of
//   the same directory), `optional group: option` (skipped when the file is missing), `group: null` (nothing);
// - `override group: option` in the primary config replaces that group's option wherever it is listed;
// - the package: `# @package _global_` merges at the top; otherwise a group's config lands under the group's key
//   (model/shd → model.shd), a primary or plain config at the top.
// Later entries override earlier ones key by key (mappings merge deeply, anything else is replaced).
// Refused by name: `group@package` retargeting, options given as lists, and interpolations are left as written
// (a model setting written as `${…}` is then refused by the config reader as not a number).
// The config root: the primary file's directory, or the nearest ancestor that holds an absolute entry's group.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { parseDocument } from "yaml";
import { NmcError } from "../../ir/errors.js";

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => v !== null && typeof v === "object" && !Array.isArray(v);

export interface Composed {
  config: Raw;
  /** Every file read, in merge order (the primary last when its _self_ is last). */
  files: string[];
}

/** The YAML text parsed into plain values (aliases resolved, at most 100), errors naming the file and line. */
export function parseYamlText(text: string, file: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new NmcError(`the config is not valid YAML: ${e.message.split("\n")[0]}`, { file, path: e.linePos ? `line ${e.linePos[0].line}` : undefined });
  }
  // toJS resolves aliases: one to an anchor not (yet) set, or too many (an alias bomb), throws ReferenceError.
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new NmcError(`the config is not valid YAML: ${(e instanceof Error ? e.message : String(e)).split("\n")[0]}`, { file, hint: "an alias (*name) needs its anchor (&name) before it" });
  }
}

/** A config file's text; `from`: the defaults entry that names it (then a failure names that entry). */
export function readConfigText(file: string, from?: { file: string; path: string }): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code ?? String(e);
    if (from) throw new NmcError(`${from.path}: the config it names cannot be read (${code})`, { file: from.file, path: from.path, expected: "a YAML file", found: file });
    throw new NmcError(code === "ENOENT" ? "cannot read the config: no such file" : `cannot read the config (${code})`, { file });
  }
}

function readYaml(file: string, from?: { file: string; path: string }, known?: string): { js: Raw; global: boolean } {
  const text = known ?? readConfigText(file, from);
  let js = parseYamlText(text, file);
  if (js === null || js === undefined) js = {};
  if (!isObj(js)) throw new NmcError("the config must be a YAML mapping", { file, expected: "a mapping", found: JSON.stringify(js) });
  const header = /^\s*#\s*@package\s+(\S+)/m.exec(text.split("\n").filter((l) => l.trim() !== "").slice(0, 3).join("\n"));
  if (header && header[1] !== "_global_" && header[1] !== "_group_") {
    throw new NmcError(`@package ${header[1]} is not followed by nmc`, { file, expected: "@package _global_ or _group_ (or none)", found: header[1] });
  }
  return { js, global: header?.[1] === "_global_" };
}

function mergeInto(dst: Raw, src: Raw): void {
  for (const [k, v] of Object.entries(src)) {
    if (isObj(v) && isObj(dst[k])) mergeInto(dst[k] as Raw, v);
    else dst[k] = isObj(v) ? structuredClone(v) : v;
  }
}

function place(at: string[], v: Raw): Raw {
  return at.reduceRight<Raw>((inner, k) => ({ [k]: inner }), v);
}

/** Does the file have a defaults list? (only then is there anything to compose) */
export function hasDefaults(js: unknown): boolean {
  return isObj(js) && "defaults" in js;
}

/** Composes `file` (its text already read: `text`) and everything its defaults list names, recursively. */
export function composeHydra(file: string, text?: string): Composed {
  const primary = resolve(file);
  const top = readYaml(primary, undefined, text);
  const overrides = new Map<string, string | null>();
  const files: string[] = [];
  const out: Raw = {};
  let root = dirname(primary);

  /** The directory a group lives in: absolute groups from the root, found by walking up from the primary file. */
  const groupDir = (group: string, absolute: boolean, inGroup: string): string => {
    if (!absolute) return join(root, inGroup, group);
    for (let d = root; ; d = dirname(d)) {
      if (existsSync(join(d, group))) {
        root = d;
        return join(d, group);
      }
      if (dirname(d) === d) return join(root, group);
    }
  };

  const visit = (path: string, js: Raw, global: boolean, group: string[], inGroup: string, isPrimary: boolean, depth: number): void => {
    if (depth > 32) throw new NmcError("the defaults lists nest more than 32 deep (a cycle?)", { file: path });
    const where = (i: number) => ({ file: path, path: `defaults[${i}]` });
    const own: Raw = { ...js };
    delete own.defaults;
    const list = js.defaults ?? [];
    if (!Array.isArray(list)) throw new NmcError("defaults must be a list", { file: path, path: "defaults", expected: "a YAML list", found: JSON.stringify(list) });
    // Overrides first (they apply wherever their group is listed, also before them).
    if (isPrimary) {
      list.forEach((e, i) => {
        if (!isObj(e)) return;
        for (const [k, v] of Object.entries(e)) {
          const m = /^override\s+(\/?)(\S+)$/.exec(k);
          if (!m) continue;
          if (v !== null && typeof v !== "string") throw new NmcError(`${k}: an option must be a name`, { ...where(i), expected: "a config name or null", found: JSON.stringify(v) });
          overrides.set(m[2]!, v as string | null);
        }
      });
    }
    const self = () => {
      files.push(path);
      mergeInto(out, global ? own : place(group, own));
    };
    let selfDone = false;
    list.forEach((e, i) => {
      if (e === "_self_") {
        self();
        selfDone = true;
        return;
      }
      if (typeof e === "string") {
        const f = join(dirname(path), `${e}.yaml`);
        const y = readYaml(f, where(i));
        visit(f, y.js, y.global || group.length === 0, group, inGroup, false, depth + 1);
        return;
      }
      if (!isObj(e) || Object.keys(e).length !== 1) {
        throw new NmcError("a defaults entry must be _self_, a config name or one group: option", { ...where(i), expected: "_self_, name or {group: option}", found: JSON.stringify(e) });
      }
      const [key, value] = Object.entries(e)[0]!;
      const m = /^(?:(optional|override)\s+)?(\/?)([^@\s]+)(@\S+)?$/.exec(key);
      if (!m) throw new NmcError(`defaults entry ${JSON.stringify(key)} is not a group`, { ...where(i), expected: "[optional|override] [/]group", found: key });
      const [, keyword, slash, g, pkg] = m;
      if (pkg) throw new NmcError(`${key}: a package retarget (group@package) is not followed by nmc`, { ...where(i), hint: "compose the run with hydra and import its saved .hydra/config.yaml" });
      if (keyword === "override" && isPrimary) return; // applied through `overrides`
      const option = overrides.has(g!) ? overrides.get(g!)! : value;
      if (option === null) return;
      if (typeof option !== "string") throw new NmcError(`${key}: an option must be a name`, { ...where(i), expected: "a config name or null", found: JSON.stringify(option) });
      const dir = groupDir(g!, slash === "/", inGroup);
      const f = join(dir, `${option}.yaml`);
      if (keyword === "optional" && !existsSync(f)) return;
      const y = readYaml(f, where(i));
      const fullGroup = relative(root, dir).split(sep).filter(Boolean);
      // The package of a group config (Hydra's _group_): the group's path; the option's subdirectories are not part of it.
      visit(f, y.js, y.global, y.global ? [] : fullGroup, fullGroup.join("/"), false, depth + 1);
    });
    if (!selfDone) self();
  };
  visit(primary, top.js, true, [], "", true, 0);
  return { config: out, files };
}
