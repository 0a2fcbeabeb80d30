import type { Command } from "commander";
import { FLOAT_IR_SECTION, bundleGraph, readBundle, type Bundle } from "../../ir/bundle.js";
import { irKindOf } from "../../ir/kinds.js";
import type { Graph } from "../../ir/types.js";
import { bytes, pct, renderTable } from "../../runtime/table.js";
import { REPORT_SECTION } from "../../targets/compile.js";
import { findTarget } from "../../targets/registry.js";
import { VerificationFailed } from "../exit.js";

function formats(p: Graph["populations"][number]): { output: string | null; accum: string | null; state: string | null } {
  const f = p.fixed;
  if (!f) return { output: null, accum: null, state: null };
  const k = irKindOf(p);
  return {
    output: `i${k.outBits} f${f.outFrac}`,
    // A kind without input ports (Input, Readout) accumulates nothing.
    accum: Object.keys(k.ports(p)).length === 0 ? null : `i32 f${f.accFrac}`,
    state: k.stateText(f),
  };
}

function sizeOf(g: Graph, name: string): number {
  const j = g.projections.find((x) => x.name === name)!;
  return j.weights.values.data.byteLength + j.weights.colIdx.byteLength + j.weights.rowPtr.byteLength +
    (j.requant ? j.requant.multiplier.byteLength + j.requant.shift.byteLength : 0);
}

export function inspectSummary(file: string, b: Bundle, g: Graph) {
  const m = b.manifest;
  const report = b.sections.get(REPORT_SECTION);
  return {
    file,
    manifest: {
      format_version: m.formatVersion, nmc_version: m.nmcVersion, created_at: m.createdAt, model_name: m.modelName,
      model_source: m.modelSource, target: m.target, meta: m.meta, cores: m.cores.length,
    },
    quantization: g.quant ?? null,
    populations: g.populations.map((p) => ({
      name: p.name, kind: p.kind, size: p.size, emission: p.emission, layer: p.loc.layer || null,
      ...(p.kind === "DiagonalSSM" ? { state_size: p.stateSize } : {}), ...(p.kind === "Dense" ? { activation: p.activation } : {}),
      formats: formats(p), luts: (p.luts ?? []).map((l) => l.name),
    })),
    projections: g.projections.map((j) => ({
      name: j.name, source: j.source, target: j.target, port: j.port, delay: j.delay, rows: j.rows, cols: j.cols,
      nnz: j.weights.colIdx.length, weight_sparsity: 1 - j.weights.colIdx.length / (j.rows * j.cols),
      dtype: j.weights.values.dtype, bytes: sizeOf(g, j.name),
    })),
    sections: m.sections.map((s) => ({ name: s.name, kind: s.kind, offset: s.offset, length: s.length, sha256: s.sha256 })),
    report: report ? JSON.parse(new TextDecoder().decode(report.data)) : null,
  };
}

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("show what a bundle holds: populations, projections, sparsity, number formats, sections")
    .argument("<bundle>", "a bundle written by nmc compile (.nmb)")
    .option("--json", "print everything (including the compile report) as JSON")
    .option("--recheck", "also recompute what the target stored (spinnaker2: partition, placement, routes) with this nmc and list the differences; exit 1 if any")
    .addHelpText("after", `
Every byte of the bundle is checked (header, manifest checksum, section checksums, padding) before anything is
shown; a damaged file is refused with the section and byte offset that failed (exit 2). The target's sections
are decoded and verified as \`nmc run\` loads them (spinnaker2: the stored mapping and routing tables must be
consistent), never recomputed; --recheck recomputes them to show how today's compiler would differ.

Examples:
  $ nmc inspect m.nmb
  $ nmc inspect m.nmb --json | jq '.projections[] | {name, weight_sparsity}'
  $ nmc inspect s.nmb --recheck      # does today's compiler still map it the same way?`)
    .action((file: string, opts: { json?: boolean; recheck?: boolean }) => {
      const b = readBundle(file);
      const g = bundleGraph(b, file);
      if (b.sections.has(FLOAT_IR_SECTION)) bundleGraph(b, file, FLOAT_IR_SECTION);
      const target = findTarget(b.manifest.target);
      const own = target?.inspect?.(b, g, file);
      const recheck = opts.recheck ? (target?.recheck?.(b, g, file) ?? []) : undefined;
      const s = { ...inspectSummary(file, b, g), ...(own?.json ?? {}), ...(recheck ? { recheck: { differences: recheck } } : {}) };
      const done = () => {
        if (recheck?.length) throw new VerificationFailed(`the stored ${b.manifest.target} lowering differs from what this nmc computes (${recheck.length} difference${recheck.length === 1 ? "" : "s"})`);
      };
      if (opts.json) {
        process.stdout.write(JSON.stringify(s, null, 2) + "\n");
        return done();
      }
      const m = s.manifest;
      const q = g.quant;
      const lines = [
        `bundle   ${file}`,
        `model    ${m.model_name} from ${m.model_source || "?"}`,
        `target   ${m.target}; written by nmc ${m.nmc_version} at ${m.created_at}`,
        q ? `quantized weights int${q.weightBits}, SSM state int${q.stateBits}; ranges ${q.rangeMode} of ${q.calibration}` : "float IR (not quantized)",
        "",
        "populations",
        renderTable(["name", "kind", "size", "emits", "layer", "output", "accum", "state", "LUTs"],
          s.populations.map((p) => [p.name, p.kind, p.size, p.emission, p.layer, p.formats.output, p.formats.accum, p.formats.state, p.luts.join(",") || null])),
        "",
        "projections",
        renderTable(["name", "source -> target", "delay", "shape", "nnz", "weight sparsity", "dtype", "bytes"],
          s.projections.map((j) => [j.name, `${j.source} -> ${j.target}.${j.port}`, j.delay, `${j.rows}x${j.cols}`, j.nnz, pct(j.weight_sparsity, 2), j.dtype, j.bytes])),
        "",
        "sections",
        renderTable(["name", "kind", "offset", "length", "sha256"],
          s.sections.map((x) => [x.name, x.kind, x.offset, bytes(x.length), x.sha256.slice(0, 16) + "…"])),
      ];
      const rep = s.report as { error?: { output: { argmaxAgreement: number; maxAbs: number }; samples: number } } | null;
      if (rep?.error) {
        lines.push("", `float vs golden on the calibration data: argmax agreement ${pct(rep.error.output.argmaxAgreement, 2)} over ${rep.error.samples} sequences, ` +
          `max |error| ${rep.error.output.maxAbs.toPrecision(3)} (nmc inspect --json for the full compile report)`);
      }
      if (own) lines.push(own.text.replace(/^\n/, "\n").trimEnd());
      if (recheck) {
        lines.push("", recheck.length === 0 ? `recheck: this nmc computes the same ${b.manifest.target} lowering as stored`
          : `recheck: the stored lowering differs from what this nmc computes (the bundle runs as stored):\n${recheck.map((d) => "  " + d).join("\n")}`);
      }
      process.stdout.write(lines.join("\n") + "\n");
      done();
    });
}
