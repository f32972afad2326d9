// Kubernetes resource.Quantity values ("500m", "2Gi", "1e3") as numbers: for comparisons (the
// diff of desired and observed children, requests within limits), not for exact arithmetic.

const quantitySuffixes: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
const quantityRe = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?)$/;

/** The value of a Kubernetes resource.Quantity ("500m", "2Gi", "1e3"), or undefined. */
export function parseQuantity(q: string): number | undefined {
  const m = quantityRe.exec(q.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  const mult = quantitySuffixes[m[3] ?? ''];
  return mult === undefined ? undefined : base * mult;
}
