// The benchmark's charts and its reading of the image's NODE_OPTIONS.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderSvg, renderTerminal, type Series } from '../../bench/chart.ts';
import { imageNodeOptions } from '../../bench/image.ts';

const series: Series[] = [
  { name: 'ready', unit: 'models', axis: 'left', points: [[0, 0], [5, 50], [10, 100]] },
  { name: 'rss', unit: 'MiB', axis: 'right', points: [[0, 80], [10, 160]] },
];

describe('bench charts', () => {
  it('draws one path per series in an SVG, with its legend and axes', () => {
    const svg = renderSvg(series, 'title <x>');
    assert.equal((svg.match(/<path /g) ?? []).length, 2);
    assert.match(svg, /title &lt;x>/);
    assert.match(svg, /ready \(models\)/);
    assert.match(svg, /160 MiB|168 MiB/);
  });

  it('draws each series as a row of blocks scaled to its own maximum', () => {
    const lines = renderTerminal(series, 10).split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? '', /█ +ready \(max 100 models\)/);
    assert.match(lines[1] ?? '', /rss \(max 160 MiB\)/);
  });
});

describe('imageNodeOptions', () => {
  it('reads the ENV NODE_OPTIONS line of the Dockerfile, and says when there is none', () => {
    assert.equal(imageNodeOptions('FROM x\nENV NODE_OPTIONS="--max-old-space-size-percentage=75"\n'), '--max-old-space-size-percentage=75');
    assert.throws(() => imageNodeOptions('FROM x\n'), /sets no NODE_OPTIONS/);
  });
});
