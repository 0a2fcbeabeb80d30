// Hyper-parameter overrides for the training scripts, from environment variables (for quick trials;
// committed results come from the defaults, and each script records any override it used).

export function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got '${v}'`);
  return n;
}
