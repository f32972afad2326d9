// Durations as the spec writes them ("30s", "5m", "1h30m"), the pattern the CRD enforces.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /([0-9]+)(ms|s|m|h)/g;

/** Milliseconds of a duration that matches the CRD's pattern; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  if (!/^([0-9]+(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(PART)) total += Number(n) * (UNIT_MS[unit as string] ?? 0);
  return total;
}
