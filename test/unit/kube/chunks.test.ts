// ChunkedText: the text of a piece is the same however the stream was cut into chunks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedText } from '../../../operator/src/kube/chunks.ts';

/** Splits `text` into lines (as the watch does) from chunks cut at the given byte offsets. */
function lines(text: string, cuts: number[]): string[] {
  const bytes = Buffer.from(text);
  const out: string[] = [];
  const piece = new ChunkedText();
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    const chunk = bytes.subarray(start, cut);
    start = cut;
    let from = 0;
    let nl: number;
    while ((nl = chunk.indexOf(10, from)) !== -1) {
      out.push(piece.take(chunk, from, nl));
      from = nl + 1;
    }
    piece.carry(chunk, from);
  }
  return out;
}

describe('ChunkedText', () => {
  const text = '{"type":"ADDED","name":"ünï-名前 🚀"}\n\n{"type":"MODIFIED"}\n';
  const want = ['{"type":"ADDED","name":"ünï-名前 🚀"}', '', '{"type":"MODIFIED"}'];

  it('gives each line whole at every single cut, and byte by byte', () => {
    const n = Buffer.byteLength(text);
    for (let cut = 0; cut <= n; cut++) assert.deepEqual(lines(text, [cut]), want, `cut at byte ${cut}`);
    assert.deepEqual(lines(text, Array.from({ length: n - 1 }, (_, i) => i + 1)), want);
  });

  it('joins a line that spans three chunks, then starts afresh', () => {
    assert.deepEqual(lines('abcdefgh\nij\n', [2, 5]), ['abcdefgh', 'ij']);
  });
});
