// Figures of a process read from /proc, for the benchmarks.
import { readFileSync } from 'node:fs';

/** CPU seconds a process has used (user + system), from /proc; 0 once it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by each named process, and by this one (`benchmark`). */
export function cpuOf(pids: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) out[name] = cpuSeconds(pid);
  const own = process.cpuUsage();
  out['benchmark'] = (own.user + own.system) / 1e6;
  return out;
}

/**
 * What each process used between two readings of cpuOf, and `all` of them. A process gone by the
 * second reading (0 there) counts as nothing rather than as minus what it had used.
 */
export function cpuBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  let all = 0;
  for (const name of Object.keys(before)) {
    const used = Math.max(0, (after[name] ?? 0) - (before[name] ?? 0));
    out[name] = used;
    all += used;
  }
  out['all'] = all;
  return out;
}

/** The table the benchmark prints: each process's CPU in both phases, most added first, `all` last. */
export function cpuTable(floor: Record<string, number>, operator: Record<string, number>): string[] {
  const names = [...new Set([...Object.keys(floor), ...Object.keys(operator)])].filter((n) => n !== 'all');
  names.sort((a, b) => ((operator[b] ?? 0) - (floor[b] ?? 0)) - ((operator[a] ?? 0) - (floor[a] ?? 0)));
  const row = (name: string, f: number, o: number, more: string): string => `      ${name.padEnd(26)}${f.toFixed(1).padStart(8)}${o.toFixed(1).padStart(10)}${more.padStart(10)}`;
  const all = (floor['all'] ?? 0) > 0 ? `${((operator['all'] ?? 0) / (floor['all'] ?? 1)).toFixed(2)}×` : '';
  return [
    `      ${'CPU seconds'.padEnd(26)}${'floor'.padStart(8)}${'operator'.padStart(10)}${'more'.padStart(10)}`,
    ...names.map((n) => {
      const f = floor[n] ?? 0;
      const o = operator[n] ?? 0;
      return row(n, f, o, `${o - f >= 0 ? '+' : ''}${(o - f).toFixed(1)}`);
    }),
    row('all', floor['all'] ?? 0, operator['all'] ?? 0, all),
  ];
}
