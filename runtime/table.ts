// Plain-text tables for the terminal (CLI summaries, target reports): columns padded to their widest cell, numbers right-aligned.

export type Cell = string | number | null | undefined;

function text(c: Cell): string {
  if (c === null || c === undefined) return "-";
  return typeof c === "number" ? String(c) : c;
}

export function renderTable(headers: string[], rows: Cell[][], indent = "  "): string {
  const cells = rows.map((r) => r.map(text));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number" || r[i] === null || r[i] === undefined || /^[-+]?[\d.]+(e[-+]?\d+)?%?$|^[×x][\d.]+$/.test(text(r[i]))));
  const line = (r: string[]) => indent + r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(headers), ...cells.map(line)].join("\n");
}

/** A fraction as a percentage with `digits` decimals. */
export const pct = (x: number | null | undefined, digits = 1): string | null =>
  x === null || x === undefined ? null : `${(100 * x).toFixed(digits)}%`;

/** A number in 4 significant digits (exponent form when far from 1). */
export function sig(x: number | null | undefined): string | null {
  if (x === null || x === undefined) return null;
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e5 || a < 1e-3 ? x.toExponential(2) : String(Number(x.toPrecision(4)));
}

export function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`;
}
