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

const DECIMAL_EXPONENTS: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_EXPONENTS: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
/** Beyond this decimal exponent a quantity is out of int64 anyway, and the API server's parser stalls on it. */
export const MAX_QUANTITY_EXPONENT = 18;

/**
 * The exact value of a quantity that is a whole number ("2000m", "1Ki", "1.50e1"), decided on its
 * digits, not on a float: "0782.6058970Pi" and "717069e-7504" look whole as floats and are not (the
 * API server rounds a fraction up to 1m, and refuses it for an extended resource), and above 2^53 a
 * float takes two counts for one. Null when it is a quantity but not whole; undefined when it is no
 * quantity, or its exponent is beyond ±MAX_QUANTITY_EXPONENT.
 */
export function wholeQuantity(q: number | string): bigint | null | undefined {
  if (typeof q === 'number') return Number.isInteger(q) ? BigInt(q) : null;
  const m = quantityRe.exec(q.trim());
  if (!m) return undefined;
  const sign = m[1]?.startsWith('-') ? -1n : 1n;
  const [int = '', frac = ''] = (m[1] ?? '').replace(/^[+-]/, '').split('.');
  const digits = BigInt(`${int}${frac}` || '0');
  if (digits === 0n) return 0n;
  let ten = -frac.length;
  let two = 0;
  if (m[2]) {
    const e = Number(m[2].slice(1));
    if (Math.abs(e) > MAX_QUANTITY_EXPONENT) return undefined;
    ten += e;
  } else if (m[3] !== undefined && m[3] in BINARY_EXPONENTS) two = BINARY_EXPONENTS[m[3]] as number;
  else ten += DECIMAL_EXPONENTS[m[3] ?? ''] ?? 0;
  // digits × 10^ten × 2^two is whole when the negative powers divide the digits.
  const scaled = digits * 2n ** BigInt(two);
  if (ten >= 0) return sign * scaled * 10n ** BigInt(ten);
  const divisor = 10n ** BigInt(-ten);
  return scaled % divisor === 0n ? sign * (scaled / divisor) : null;
}
