// The README's "How fast" table, regenerated from benchmark results (`npm run bench -- --readme`).
// Pure: results in, README text out. Each run replaces the row of its kind (model count, replicas,
// memory limit), dated; the other rows stay when they come from the same machine, and go when the
// machine line differs (figures from two machines are not comparable) or the columns changed.
export const BEGIN = '<!-- bench:begin (npm run bench -- --readme rewrites this) -->';
export const END = '<!-- bench:end -->';

export interface BenchResult {
  count: number;
  replicas: number | string;
  memoryLimit: string | null;
  when: string;
  nodeOptions: string;
  floorSeconds: number | null;
  operatorSeconds: number;
  ratio: number | null;
  cpuMsPerModel: number;
  idleRssMiB: number;
  peakRssMiB: number;
  writesPerModel: number;
  steadyWrites: number;
  restartSyncSeconds: number;
  restartWrites: number;
  restartPeakRssMiB: number;
  oom: string;
}

const HEADER = [
  '| models | floor to all Ready | operator to all Ready | ratio | operator CPU per model | operator RSS idle / peak | writes per model | writes at rest (30 s) | restart: caches synced, writes, peak RSS | run |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];

const num = (x: number | null, digits: number, unit = ''): string => (x === null || !Number.isFinite(x) ? '–' : `${x.toFixed(digits)}${unit}`);

/** The first cell: what distinguishes runs of one size (no pods, a memory limit). */
export function rowKey(r: Pick<BenchResult, 'count' | 'replicas' | 'memoryLimit'>): string {
  const notes = [typeof r.replicas === 'number' ? `${r.replicas} replicas` : '', r.memoryLimit ? `limit ${r.memoryLimit}` : ''].filter(Boolean);
  return `${r.count.toLocaleString('en-US')}${notes.length ? ` (${notes.join(', ')})` : ''}`;
}

export function row(r: BenchResult): string {
  return `| ${rowKey(r)} | ${num(r.floorSeconds, 1, ' s')} | ${num(r.operatorSeconds, 1, ' s')} | ${num(r.ratio, 2)} | ${num(r.cpuMsPerModel, 1, ' ms')} | ${num(r.idleRssMiB, 0)} / ${num(r.peakRssMiB, 0)} MiB | ${num(r.writesPerModel, 2)} | ${r.steadyWrites} | ${num(r.restartSyncSeconds, 2, ' s')}, ${r.restartWrites}, ${num(r.restartPeakRssMiB, 0, ' MiB')} | ${r.when.slice(0, 10)} |`;
}

/** README with the table between the markers updated by one result; the machine line says where. */
export function updateReadme(readme: string, r: BenchResult, machine: string): string {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin === -1 || end === -1 || end < begin) throw new Error(`README.md has no benchmark table between ${BEGIN} and ${END}`);
  const machineLine = `Machine: ${machine}.`;
  const lines = readme.slice(begin + BEGIN.length, end).split('\n');
  const sameMachine = lines.includes(machineLine);
  // Rows of an older layout (another header) go too: their cells would sit under other columns.
  const sameLayout = lines.includes(HEADER[0] as string);
  const old = sameMachine && sameLayout ? lines.filter((l) => l.startsWith('| ') && !HEADER.includes(l)) : [];
  const rows = new Map(old.map((l) => [l.split(' | ')[0]?.slice(2) ?? '', l]));
  rows.set(rowKey(r), row(r));
  const sorted = [...rows].sort(([a], [b]) => Number(a.split(' ')[0]?.replace(/,/g, '')) - Number(b.split(' ')[0]?.replace(/,/g, '')) || (a < b ? -1 : a > b ? 1 : 0)).map(([, l]) => l);
  const body = ['', machineLine, '', ...HEADER, ...sorted, ''].join('\n');
  return readme.slice(0, begin + BEGIN.length) + body + readme.slice(end);
}
