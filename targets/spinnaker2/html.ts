// The HTML report: one self-contained file (no scripts, no network) whose plots are Vega-Lite specifications
// rendered to inline SVG at report time (vega's headless renderer). Plots: the PE map of the chip(s)
// coloured by cycles, SRAM and packets; an activity raster of one input; sparsity per population and per
// projection; the energy split; event-driven vs dense bars; latency per tick.
import type { TopLevelSpec } from "vega-lite";
import type { Graph } from "../../ir/types.js";
import { sliceBatch, type SequenceBatch } from "../../runtime/batch.js";
import { type Mapping, type RunReport, simulate } from "./index.js";

export interface RasterPoint {
  tick: number;
  unit: number;
  population: string;
}

/** Every non-zero output (an event) of every computed population for one input sequence, on the simulator. */
export function rasterOf(g: Graph, m: Mapping, batch: SequenceBatch, sample: number, maxPoints = 20000): RasterPoint[] {
  const one = sliceBatch(batch, sample, sample + 1);
  const points: RasterPoint[] = [];
  const offsets: number[] = [];
  let off = 0;
  for (const p of g.populations) {
    offsets.push(off);
    if (p.kind !== "Input" && p.kind !== "Readout") off += p.size;
  }
  simulate(g, m, one, {
    observer: (pi, out, _b, t) => {
      const p = g.populations[pi];
      if (p.kind === "Input" || p.kind === "Readout") return;
      for (let i = 0; i < out.length && points.length < maxPoints; i++) if (out[i] !== 0) points.push({ tick: t, unit: offsets[pi] + i, population: p.name });
    },
  });
  return points;
}

/**
 * Vega and Vega-Lite, loaded on the first plot: they take ~150 ms to load, which every run, worker thread and
 * command that draws no HTML would otherwise pay (the target registry loads this module).
 */
let plotting: Promise<[typeof import("vega"), typeof import("vega-lite")]> | undefined;

async function svg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await (plotting ??= Promise.all([import("vega"), import("vega-lite")]));
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

export interface HtmlInput {
  title: string;
  report: RunReport;
  raster: RasterPoint[];
  rasterSample: number;
  accuracy?: number;
  notes?: string[];
}

export async function renderHtml(h: HtmlInput): Promise<string> {
  const r = h.report;
  const cell = r.perPe.map((p) => ({
    ...p, gx: p.x * 2 + (p.core % 2), gy: p.y * 2 + Math.floor(p.core / 2), label: `PE ${p.pe} ${p.location} ${p.slice}`,
  }));
  const peMap = (field: string, title: string): TopLevelSpec => ({
    title, width: 260, height: 180, data: { values: cell }, mark: "rect",
    encoding: {
      x: { field: "gx", type: "ordinal", title: "mesh x (2 columns per QPE)" },
      y: { field: "gy", type: "ordinal", title: "mesh y", sort: "descending" },
      color: { field, type: "quantitative", title },
      tooltip: [{ field: "label" }, { field, type: "quantitative" }],
    },
  });
  const plots: [string, TopLevelSpec][] = [
    ["PE map: cycles", peMap("cycles", "cycles")],
    ["PE map: SRAM bytes", peMap("sramBytes", "SRAM bytes")],
    ["PE map: packets in", peMap("packetsIn", "packets in")],
    [`Activity raster (input ${h.rasterSample}): events per tick and unit`, {
      width: 560, height: 260, data: { values: h.raster }, mark: { type: "tick", thickness: 1 },
      encoding: {
        x: { field: "tick", type: "quantitative", title: "tick" },
        y: { field: "unit", type: "quantitative", title: "unit (populations stacked in graph order)" },
        color: { field: "population", type: "nominal" },
      },
    }],
    ["Activity sparsity per population", {
      width: 300, data: { values: Object.entries(r.activitySparsity).map(([k, v]) => ({ population: k, sparsity: v })) }, mark: "bar",
      encoding: { y: { field: "population", type: "nominal" }, x: { field: "sparsity", type: "quantitative", scale: { domain: [0, 1] } } },
    }],
    ["Weight sparsity per projection", {
      width: 300, data: { values: Object.entries(r.weightSparsity).map(([k, v]) => ({ projection: k, sparsity: v })) }, mark: "bar",
      encoding: { y: { field: "projection", type: "nominal" }, x: { field: "sparsity", type: "quantitative", scale: { domain: [0, 1] } } },
    }],
    ["Energy per inference: split", {
      width: 300, mark: "bar",
      data: {
        values: (["eventMode", "denseMode"] as const).flatMap((mode) => Object.entries(r[mode].energyJoules)
          .filter(([k]) => k !== "total").map(([k, v]) => ({ mode: mode === "eventMode" ? "event-driven" : "dense", part: k, microjoules: v * 1e6 }))),
      },
      encoding: { y: { field: "mode", type: "nominal" }, x: { field: "microjoules", type: "quantitative", title: "µJ" }, color: { field: "part", type: "nominal" } },
    }],
    ["Event-driven vs dense (dense ÷ event-driven)", {
      width: 300, mark: "bar",
      data: {
        values: [
          { measure: "synaptic ops", gain: r.gains.combined }, { measure: "energy", gain: r.gains.energy }, { measure: "latency", gain: r.gains.latency },
          { measure: "ops, activity only", gain: r.gains.activity }, { measure: "ops, weights only", gain: r.gains.weight },
        ],
      },
      encoding: { y: { field: "measure", type: "nominal", sort: null }, x: { field: "gain", type: "quantitative", title: "× reduction" } },
    }],
    ["Latency per tick (compute, slowest PE; mean over inputs)", {
      width: 560, height: 200, mark: "line",
      data: {
        values: r.tickSeconds.event.flatMap((e, t) => [{ tick: t, mode: "event-driven", microseconds: e * 1e6 }, { tick: t, mode: "dense", microseconds: r.tickSeconds.dense[t] * 1e6 }]),
      },
      encoding: { x: { field: "tick", type: "quantitative" }, y: { field: "microseconds", type: "quantitative", title: "µs" }, color: { field: "mode", type: "nominal" } },
    }],
  ];
  const rendered = await Promise.all(plots.map(async ([title, spec]) => `<section class="plot" data-plot="${esc(title)}"><h2>${esc(title)}</h2>${await svg(spec)}</section>`));
  const e = r.eventMode, d = r.denseMode;
  const facts = [
    ["machine", `${r.pes} PEs on ${r.chips} chip(s) (memory lower bound ${r.peLowerBound}), ${r.level} at ${r.clockMHz} MHz`],
    ["inputs", `${r.samples} sequences × ${r.ticks} ticks`],
    ...(h.accuracy !== undefined ? [["accuracy", `${(100 * h.accuracy).toFixed(2)} %`]] : []),
    ["activity sparsity", `${(100 * r.activitySparsityOverall).toFixed(2)} %`],
    ["weight sparsity", `${(100 * r.weightSparsityOverall).toFixed(2)} %`],
    ["latency per inference", `${(e.latencySeconds * 1e3).toPrecision(4)} ms event-driven, ${(d.latencySeconds * 1e3).toPrecision(4)} ms dense`],
    ["energy per inference", `${(e.energyJoules.total * 1e6).toPrecision(4)} µJ event-driven, ${(d.energyJoules.total * 1e6).toPrecision(4)} µJ dense`],
    ...(r.dvfs ? [[`energy ${r.dvfs.shown === "on" ? "without" : "with"} per-PE DVFS`, (["event", "dense"] as const).map((k) => {
      const x = r.dvfs!.modes[k];
      return `${((r.dvfs!.shown === "on" ? x.offJoules : x.energyJoules.total) * 1e6).toPrecision(4)} µJ ${k === "event" ? "event-driven" : "dense"}`;
    }).join(", ") + ` (−${(100 * r.dvfs.modes.event.saved).toFixed(1)} % event-driven; nominal ${r.dvfs.nominal}, gating ${r.dvfs.gating ? "on" : "off"})`]] : []),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(h.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}h2{font-size:1.05em;margin:.2em 0}
table{border-collapse:collapse}td{padding:2px 12px 2px 0}.plots{display:flex;flex-wrap:wrap;gap:24px}.plot{border:1px solid #ddd;padding:8px}</style>
</head><body>
<h1>${esc(h.title)}</h1>
<table>${facts.map(([k, v]) => `<tr><td><b>${esc(k)}</b></td><td>${esc(v)}</td></tr>`).join("")}</table>
${(h.notes ?? []).map((n) => `<p>${esc(n)}</p>`).join("\n")}
<div class="plots">
${rendered.join("\n")}
</div>
<p><small>Written by nmc; plots are Vega-Lite rendered to SVG when the report was written (no scripts, no network).</small></p>
</body></html>
`;
}
