// The HTML report: self-contained (no scripts, no external resources), every plot rendered to SVG with
// marks; and, where headless Chromium is installed, the page loads and its DOM holds every plot.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, runNmcAsync } from "../support/cli.js";

const EX = "examples/egru-smnist";
const PLOTS = [
  "PE map: cycles", "PE map: SRAM bytes", "PE map: packets in", "Activity raster", "Activity sparsity per population",
  "Weight sparsity per projection", "Energy per inference: split", "Event-driven vs dense", "Latency per tick",
];
let dir = "";
let html = "";
const chromium = ["chromium", "chromium-browser", "google-chrome"].find((c) => spawnSync(c, ["--version"], { encoding: "utf8" }).status === 0);

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "nmc-html-"));
  const s = join(dir, "s.nmb");
  expect((await runNmcAsync(["compile", `${EX}/model.json`, "--target", "spinnaker2", "-o", s, "-q"])).code).toBe(0);
  const r = await runNmcAsync(["run", s, "--input", `${EX}/inputs/x.npy`, "--labels", `${EX}/inputs/y.npy`, "--html", join(dir, "r.html"), "--raster-input", "3"], { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  html = readFileSync(join(dir, "r.html"), "utf8");
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Each plot section with its SVG. */
function sections(h: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const [, title, svg] of h.matchAll(/<section class="plot" data-plot="([^"]+)"><h2>[^<]*<\/h2>(<svg[\s\S]*?<\/svg>)<\/section>/g)) m.set(title, svg);
  return m;
}

describe("nmc run --html", () => {
  it("is one self-contained file with every plot rendered as SVG marks", () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)="https?:/i);
    const s = sections(html);
    for (const p of PLOTS) {
      const svg = [...s].find(([k]) => k.startsWith(p))?.[1];
      expect(svg, `plot ${p}`).toBeDefined();
      expect((svg!.match(/class="mark-/g) ?? []).length, `marks in ${p}`).toBeGreaterThan(3);
    }
    // The raster draws one tick mark per event of input 3: hundreds for the EGRU.
    const raster = [...s].find(([k]) => k.startsWith("Activity raster (input 3)"))![1];
    expect((raster.match(/<path/g) ?? []).length).toBeGreaterThan(200);
    expect(html).toMatch(/accuracy<\/b><\/td><td>97\.33 %/);
  });

  it("nmc report turns the run JSON into the same plots", async () => {
    const s = join(dir, "s.nmb");
    const j = await runNmcAsync(["run", s, "--input", `${EX}/inputs/x.npy`, "--json"], { timeoutMs: 120_000 });
    const jf = join(dir, "run.json");
    (await import("node:fs")).writeFileSync(jf, j.stdout);
    const r = await runNmcAsync(["report", jf, "--html", join(dir, "r2.html")]);
    expect(r.code, r.stderr).toBe(0);
    expect(sections(readFileSync(join(dir, "r2.html"), "utf8")).size).toBe(PLOTS.length);
    const bad = await runNmcAsync(["report", join(dir, "s.nmb")]);
    expect(bad.code).toBe(2);
  }, 120_000);

  it.skipIf(!chromium)(`loads in headless Chromium: every plot laid out with visible marks, and a screenshot${chromium ? "" : " (skipped: Chromium is not installed; .ci/run installs it when it can)"}`, () => {
    // The report has no scripts; a test copy gets one that measures what Chromium rendered (each plot's SVG
    // box and how many of its marks have a non-empty box) and writes it into the DOM that --dump-dom prints.
    const measured = join(dir, "measured.html");
    const probe = `<script>
const rows = [...document.querySelectorAll("section.plot")].map((s) => {
  const svg = s.querySelector("svg"); const r = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll(".mark-rect path, .mark-rect rect, .mark-line path, .mark-tick path, .mark-symbol path, .mark-rule line, path, rect, line")]
    .filter((e) => { const b = e.getBoundingClientRect(); return b.width > 0 || b.height > 0; }).length;
  return { plot: s.dataset.plot, width: r.width, height: r.height, marks };
});
const pre = document.createElement("pre"); pre.id = "nmc-measure"; pre.textContent = JSON.stringify(rows); document.body.appendChild(pre);
</script>`;
    writeFileSync(measured, html.replace("</body>", `${probe}</body>`));
    const common = ["--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"];
    const dom = spawnSync(chromium!, [...common, "--dump-dom", `file://${measured}`], { encoding: "utf8", timeout: 120_000 });
    expect(dom.status, dom.stderr).toBe(0);
    const m = dom.stdout.match(/<pre id="nmc-measure">([^<]*)<\/pre>/);
    expect(m, "the measuring script ran").not.toBeNull();
    const rows = JSON.parse(m![1].replace(/&quot;/g, '"').replace(/&amp;/g, "&")) as { plot: string; width: number; height: number; marks: number }[];
    for (const p of PLOTS) {
      const r = rows.find((x) => x.plot.startsWith(p));
      expect(r, `plot ${p} in the rendered page`).toBeDefined();
      expect(r!.width, `${p}: rendered width`).toBeGreaterThan(150);
      expect(r!.height, `${p}: rendered height`).toBeGreaterThan(60);
      expect(r!.marks, `${p}: marks with a visible box`).toBeGreaterThan(3);
    }
    expect(rows.find((x) => x.plot.startsWith("Activity raster"))!.marks).toBeGreaterThan(200);
    const png = join(dir, "shot.png");
    const shot = spawnSync(chromium!, [...common, `--screenshot=${png}`, "--window-size=1400,2400", `file://${join(dir, "r.html")}`], { encoding: "utf8", timeout: 120_000 });
    expect(shot.status, shot.stderr).toBe(0);
    expect(existsSync(png) && statSync(png).size > 50_000).toBe(true);
  }, 240_000);
});
