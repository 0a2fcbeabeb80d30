// The layering of docs/architecture.md, enforced: imports point down only. Every relative import (static,
// type-only, re-export, or dynamic with a literal path) of every .ts file in the source folders is resolved
// to the top-level folder it lands in and checked against the table below.
import { posix } from "node:path";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Node, Project, type SourceFile, SyntaxKind } from "ts-morph";
import { describe, expect, it } from "vitest";

const SOURCE_LAYERS = ["ir", "runtime", "compiler", "targets", "<root>", "cli", "examples", "bench"] as const;
type Layer = (typeof SOURCE_LAYERS)[number];

/** The public API: the one module at the root (package.json "exports"), the only way in for examples/ and bench/. */
const PUBLIC_API = "index.ts";

/**
 * What each layer may import besides itself. "*" = everything of ours except test/. "<root>" is the public
 * API module; examples/ and bench/ may import it and nothing else of the library (bench/ also the examples'
 * shared data loaders).
 */
const MAY_IMPORT: Record<Layer, readonly string[] | "*"> = {
  ir: [],
  runtime: ["ir"],
  compiler: ["ir", "runtime"],
  targets: ["ir", "runtime", "compiler"],
  "<root>": ["ir", "runtime", "compiler", "targets"],
  cli: "*",
  examples: ["<root>"],
  bench: ["<root>", "examples"],
};

const RULE_TEXT: Record<Layer, string> = {
  ir: "ir/ imports nothing of ours",
  runtime: "runtime/ may import ir/ only",
  compiler: "compiler/ may import ir/ and runtime/ only",
  targets: "targets/ may import ir/, runtime/ and compiler/ only",
  "<root>": "the public API (index.ts) may import ir/, runtime/, compiler/ and targets/, not cli/",
  cli: "cli/ may import everything but test/",
  examples: "examples/ may import the public API (index.ts) only, not internal modules or test/",
  bench: "bench/ may import the public API (index.ts) and examples/ only, not internal modules or test/",
};

export interface Violation {
  file: string;
  specifier: string;
  rule: string;
}

/** The top-level folder (or "<root>" for a file at the root, ".." outside) a repo-relative path lies in. */
function topFolder(rel: string): string {
  if (rel.startsWith("..") || posix.isAbsolute(rel)) return "..";
  const parts = rel.split("/");
  return parts.length === 1 ? "<root>" : parts[0]!;
}

/** Module specifiers of a file: imports, `import type`, `export … from`, `import("…")`, `require("…")`. */
function moduleSpecifiers(sf: SourceFile): string[] {
  const out: string[] = [];
  for (const d of sf.getImportDeclarations()) out.push(d.getModuleSpecifierValue());
  for (const d of sf.getExportDeclarations()) {
    const s = d.getModuleSpecifierValue();
    if (s !== undefined) out.push(s);
  }
  for (const call of sf.getDescendantsOfKind(SyntaxKind.CallExpression)) {
    const callee = call.getExpression();
    const isImport = callee.getKind() === SyntaxKind.ImportKeyword;
    const isRequire = Node.isIdentifier(callee) && callee.getText() === "require";
    const arg = call.getArguments()[0];
    if ((isImport || isRequire) && arg && Node.isStringLiteral(arg)) out.push(arg.getLiteralValue());
  }
  for (const t of sf.getDescendantsOfKind(SyntaxKind.ImportType)) {
    const lit = t.getArgument().getFirstDescendantByKind(SyntaxKind.StringLiteral);
    if (lit) out.push(lit.getLiteralValue());
  }
  return out;
}

/** Every import in `project` that breaks the layering table; `root` is the repository root. */
export function layeringViolations(project: Project, root: string): Violation[] {
  const violations: Violation[] = [];
  const rootPosix = root.split("\\").join("/");
  for (const sf of project.getSourceFiles()) {
    const filePath = sf.getFilePath() as string;
    const fileRel = posix.relative(rootPosix, filePath);
    const layer = topFolder(fileRel) as Layer;
    if (!SOURCE_LAYERS.includes(layer)) continue;
    if (layer === "<root>" && fileRel !== PUBLIC_API) continue; // config files at the root are not sources
    const allowed = MAY_IMPORT[layer];
    for (const spec of moduleSpecifiers(sf)) {
      if (!spec.startsWith(".")) continue; // packages and node: builtins are not ours
      const targetRel = posix.relative(rootPosix, posix.join(posix.dirname(filePath), spec));
      const target = topFolder(targetRel);
      let rule: string | null = null;
      if (target === "test") rule = "nothing outside test/ imports test/";
      else if (target === "..") rule = "imports stay inside the repository";
      else if (target === layer) rule = null;
      else if (allowed === "*") rule = null;
      else if (!allowed.includes(target)) rule = RULE_TEXT[layer];
      else if (target === "<root>" && targetRel.replace(/\.js$/, ".ts") !== PUBLIC_API) rule = RULE_TEXT[layer];
      if (rule) violations.push({ file: fileRel, specifier: spec, rule });
    }
  }
  return violations;
}

function formatViolations(vs: Violation[]): string {
  return vs.map((v) => `${v.file}: import "${v.specifier}" breaks "${v.rule}"`).join("\n");
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

describe("architecture: imports point down the layer table", () => {
  it("no source file imports a layer above it, or test/", () => {
    const project = new Project({ skipAddingFilesFromTsConfig: true, skipFileDependencyResolution: true });
    for (const layer of SOURCE_LAYERS) {
      if (layer === "<root>") project.addSourceFileAtPath(`${repoRoot}/${PUBLIC_API}`);
      else project.addSourceFilesAtPaths([`${repoRoot}/${layer}/**/*.{ts,mts,cts,tsx}`, `!${repoRoot}/${layer}/**/node_modules/**`]);
    }
    expect(project.getSourceFiles().length).toBeGreaterThan(0);
    const vs = layeringViolations(project, repoRoot);
    expect(vs, `layering violations:\n${formatViolations(vs)}`).toEqual([]);
  });

  it("cli/ knows targets only through the registry: it imports no target's own folder (targets/<name>/)", () => {
    const project = new Project({ skipAddingFilesFromTsConfig: true, skipFileDependencyResolution: true });
    project.addSourceFilesAtPaths([`${repoRoot}/cli/**/*.ts`]);
    const rootPosix = repoRoot.split("\\").join("/");
    const bad: string[] = [];
    for (const sf of project.getSourceFiles()) {
      const fileRel = posix.relative(rootPosix, sf.getFilePath() as string);
      for (const spec of moduleSpecifiers(sf)) {
        if (!spec.startsWith(".")) continue;
        const rel = posix.relative(rootPosix, posix.join(posix.dirname(sf.getFilePath() as string), spec));
        // targets/registry.ts, target.ts, compile.ts and run/ are the targets-agnostic library; a folder below
        // targets/ other than run/ is one target's own code.
        const m = /^targets\/([^/]+)\//.exec(rel);
        if (m && m[1] !== "run") bad.push(`${fileRel} imports ${rel}`);
      }
    }
    expect(bad, bad.join("\n")).toEqual([]);
  });

  it("the checker flags what it should (self-test on an in-memory project)", () => {
    const p = new Project({ useInMemoryFileSystem: true });
    const files: Record<string, string> = {
      "/repo/ir/x.ts": `import { y } from "../runtime/y.js";\nexport const x = y;`,
      "/repo/ir/ok.ts": `import { z } from "./z.js";\nimport fs from "node:fs";\nexport const ok = [z, fs];`,
      "/repo/ir/z.ts": `export const z = 1;`,
      "/repo/runtime/y.ts": `import type { z } from "../ir/z.js";\nexport const y = 2;`,
      "/repo/runtime/up.ts": `export { c } from "../compiler/c.js";`,
      "/repo/compiler/c.ts": `import "../runtime/y.js";\nexport const c = 3;\nexport async function f() { return import("../targets/t.js"); }`,
      "/repo/targets/t.ts": `import { c } from "../compiler/c.js";\nexport type Cli = import("../cli/main.js").Main;\nexport const t = c;`,
      "/repo/cli/main.ts": `import { t } from "../targets/t.js";\nimport { h } from "../test/support/h.js";\nexport type Main = typeof t;\nexport const m = h;`,
      "/repo/examples/e.ts": `import { x } from "../ir/x.js";\nimport { h } from "../test/support/h.js";\nexport const e = [x, h];`,
      "/repo/examples/ok.ts": `import { x } from "../index.js";\nimport { e } from "./e.js";\nexport const ok = [x, e];`,
      "/repo/index.ts": `export { x } from "./ir/x.js";\nexport { t } from "./targets/t.js";\nexport { m } from "./cli/main.js";`,
      "/repo/bench/b.ts": `import { m } from "../cli/main.js";\nimport s from "../../elsewhere/s.js";\nimport { e } from "../examples/e.js";\nexport const b = [m, s, e];`,
      "/repo/bench/c.ts": `import { c } from "../compiler/c.js";\nimport { x } from "../index.js";\nexport const bc = [c, x];`,
      "/repo/test/support/h.ts": `import { m } from "../../cli/main.js";\nexport const h = m;`,
    };
    for (const [path, text] of Object.entries(files)) p.createSourceFile(path, text);
    const got = layeringViolations(p, "/repo").map((v) => `${v.file} -> ${v.specifier}`);
    expect(got.sort()).toEqual(
      [
        "ir/x.ts -> ../runtime/y.js", // ir imports nothing of ours
        "runtime/up.ts -> ../compiler/c.js", // re-exports count
        "compiler/c.ts -> ../targets/t.js", // dynamic imports count
        "targets/t.ts -> ../cli/main.js", // import("…") types count
        "cli/main.ts -> ../test/support/h.js", // test/ is off limits even to cli/
        "examples/e.ts -> ../test/support/h.js",
        "examples/e.ts -> ../ir/x.js", // examples use the public API only
        "index.ts -> ./cli/main.js", // the public API is below the CLI
        "bench/b.ts -> ../cli/main.js", // bench uses the public API, not the CLI
        "bench/b.ts -> ../../elsewhere/s.js", // outside the repository
        "bench/c.ts -> ../compiler/c.js", // nor internal modules
      ].sort(),
    );
    const msg = formatViolations(layeringViolations(p, "/repo"));
    expect(msg).toContain('ir/x.ts: import "../runtime/y.js" breaks "ir/ imports nothing of ours"');
  });
});
