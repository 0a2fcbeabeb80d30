// How two mappings of one graph differ: a bundle's stored mapping against what today's compiler makes of it
// (recheckMapping in mapping.ts, `nmc inspect --recheck`). Listed per part (partition, placement, routing
// tables), a few lines each; empty when identical.
import type { Mapping } from "./mapping.js";

/** At most this many differences per part are listed (then a count of the rest). */
const LISTED = 8;

export function mappingDifferences(stored: Mapping, fresh: Mapping): string[] {
  const out: string[] = [];
  const list = (what: string, diffs: string[]) => {
    out.push(...diffs.slice(0, LISTED).map((d) => `${what}: ${d}`));
    if (diffs.length > LISTED) out.push(`${what}: … ${diffs.length - LISTED} more`);
  };
  list("partition", partitionDiffs(stored, fresh));
  list("placement", placementDiffs(stored, fresh));
  list("routing", routingDiffs(stored, fresh));
  return out;
}

function partitionDiffs(stored: Mapping, fresh: Mapping): string[] {
  const a = stored.partition, b = fresh.partition;
  const d: string[] = [];
  for (const key of ["usableBytes", "pes", "lowerBound"] as const) if (a[key] !== b[key]) d.push(`${key} stored ${a[key]}, recomputed ${b[key]}`);
  if (a.slices.length !== b.slices.length) d.push(`${a.slices.length} slices stored, ${b.slices.length} recomputed`);
  const n = Math.min(a.slices.length, b.slices.length);
  const range = (s: (typeof a.slices)[number]) => `${s.pop}[${s.lo}:${s.hi}]`;
  for (let i = 0; i < n; i++) {
    const x = a.slices[i], y = b.slices[i];
    if (range(x) !== range(y) || x.bytes !== y.bytes) d.push(`slice ${i} stored ${range(x)} (${x.bytes} B), recomputed ${range(y)} (${y.bytes} B)`);
  }
  return d;
}

function placementDiffs(stored: Mapping, fresh: Mapping): string[] {
  const a = stored.placement, b = fresh.placement;
  const d: string[] = [];
  for (const key of ["chips", "boards", "width", "height"] as const) if (a[key] !== b[key]) d.push(`${key} stored ${a[key]}, recomputed ${b[key]}`);
  if (a.host.x !== b.host.x || a.host.y !== b.host.y) d.push(`host stored (${a.host.x}, ${a.host.y}), recomputed (${b.host.x}, ${b.host.y})`);
  const sa = stored.partition.slices, sb = fresh.partition.slices;
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    if (sa[i].mirrors < 0 && sa[i].pe !== sb[i].pe) d.push(`slice ${i} (${sa[i].pop}) stored on PE ${sa[i].pe}, recomputed on PE ${sb[i].pe}`);
  }
  return d;
}

function routingDiffs(stored: Mapping, fresh: Mapping): string[] {
  const a = stored.routing.tables, b = fresh.routing.tables;
  const width = stored.placement.width;
  const text = (es: { key: number; mask: number; links: number; cores: number }[] | undefined) =>
    (es ?? []).map((e) => `${e.key >>> 0}/${e.mask >>> 0}→links ${e.links} cores ${e.cores >>> 0}`).join("; ");
  const d: string[] = [];
  for (const id of new Set([...a.keys(), ...b.keys()])) {
    const x = text(a.get(id)), y = text(b.get(id));
    if (x !== y) d.push(`router (${id % width}, ${Math.floor(id / width)}) stored ${a.get(id)?.length ?? 0} entries, recomputed ${b.get(id)?.length ?? 0}${x && y ? " (entries differ)" : ""}`);
  }
  return d;
}
