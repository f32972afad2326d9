// Ordering of strings by UTF-16 code unit, the same on every machine. String.prototype.localeCompare
// depends on the locale (its output would change with LANG) and loads ICU's collation data
// (2.6 MiB of RSS) for keys that are ASCII anyway.
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
