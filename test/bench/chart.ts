// The benchmark's charts: models Ready over time (floor and operator) on the left axis, the
// operator's RSS and CPU on their own scales. An SVG written next to the JSON results, and a
// compact terminal version. Pure: series in, text out.

export interface Series {
  name: string;
  unit: string;
  points: ReadonlyArray<readonly [number, number]>;
  /** left: models; right: MiB; right2: cores (drawn on the right axis scale of their own). */
  axis: 'left' | 'right' | 'right2';
}

const COLORS = ['#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#ff7f0e'];

function extent(series: readonly Series[], pick: (s: Series) => boolean): { xMax: number; yMax: number } {
  let xMax = 1;
  let yMax = 1;
  for (const s of series.filter(pick)) {
    for (const [x, y] of s.points) {
      xMax = Math.max(xMax, x);
      yMax = Math.max(yMax, y);
    }
  }
  return { xMax, yMax };
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

export function renderSvg(series: readonly Series[], title: string, width = 900, height = 420): string {
  const pad = { l: 60, r: 110, t: 40, b: 50 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const xMax = extent(series, () => true).xMax;
  const scales = new Map<Series['axis'], number>((['left', 'right', 'right2'] as const).map((a) => [a, extent(series, (s) => s.axis === a).yMax * 1.05]));
  const x = (v: number) => pad.l + (v / xMax) * w;
  const y = (v: number, axis: Series['axis']) => pad.t + h - (v / (scales.get(axis) ?? 1)) * h;
  const lines = series.map((s, i) => {
    const d = s.points.map(([px, py], j) => `${j === 0 ? 'M' : 'L'}${x(px).toFixed(1)},${y(py, s.axis).toFixed(1)}`).join(' ');
    const dash = s.axis === 'left' ? '' : ' stroke-dasharray="5,3"';
    return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"${dash}/>`;
  });
  const legend = series.map((s, i) => `<text x="${pad.l + 10}" y="${pad.t + 16 + i * 16}" fill="${COLORS[i % COLORS.length]}" font-size="12">${esc(s.name)} (${esc(s.unit)}${s.axis === 'left' ? '' : `, ${s.axis === 'right' ? 'right axis' : 'right axis, second scale'}`})</text>`);
  const ticks: string[] = [];
  for (let k = 0; k <= 5; k++) {
    const tx = (xMax * k) / 5;
    ticks.push(`<text x="${x(tx).toFixed(1)}" y="${height - pad.b + 18}" font-size="11" text-anchor="middle">${tx.toFixed(0)} s</text>`);
    const left = ((scales.get('left') ?? 1) * k) / 5;
    ticks.push(`<text x="${pad.l - 6}" y="${y(left, 'left').toFixed(1)}" font-size="11" text-anchor="end">${left.toFixed(0)}</text>`);
    const right = ((scales.get('right') ?? 1) * k) / 5;
    ticks.push(`<text x="${width - pad.r + 6}" y="${y(right, 'right').toFixed(1)}" font-size="11">${right.toFixed(0)} MiB</text>`);
    const right2 = ((scales.get('right2') ?? 1) * k) / 5;
    ticks.push(`<text x="${width - pad.r + 56}" y="${y(right2, 'right2').toFixed(1)}" font-size="11">${right2.toFixed(2)} cores</text>`);
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" font-size="14" text-anchor="middle">${esc(title)}</text>`,
    `<rect x="${pad.l}" y="${pad.t}" width="${w}" height="${h}" fill="none" stroke="#ccc"/>`,
    ...lines,
    ...legend,
    ...ticks,
    `<text x="${pad.l + w / 2}" y="${height - 12}" font-size="12" text-anchor="middle">seconds since the first apply</text>`,
    `</svg>`,
    '',
  ].join('\n');
}

/** A compact terminal chart: one row of block characters per series, scaled to its own maximum. */
export function renderTerminal(series: readonly Series[], width = 72, _height = 14): string {
  const blocks = ' ▁▂▃▄▅▆▇█';
  const xMax = extent(series, () => true).xMax;
  const rows = series.map((s) => {
    const max = Math.max(1e-9, ...s.points.map(([, v]) => v));
    let row = '';
    for (let c = 0; c < width; c++) {
      const t = (xMax * (c + 1)) / width;
      // The last sample at or before t: counts and gauges hold until the next one.
      const before = s.points.filter(([px]) => px <= t).at(-1);
      const v = before ? before[1] : 0;
      row += blocks[Math.min(8, Math.round((v / max) * 8))];
    }
    const label = `${s.name} (max ${max >= 10 ? max.toFixed(0) : max.toFixed(2)} ${s.unit})`;
    return `  ${row}  ${label}`;
  });
  return [...rows, `  ${'0 s'.padEnd(width - 8)}${xMax.toFixed(0).padStart(6)} s`].join('\n');
}
