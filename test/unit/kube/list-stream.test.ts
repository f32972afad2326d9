// ListScanner against JSON.parse: the same items and the same list metadata, however the answer
// is cut into chunks (every single cut, byte by byte, and random lists cut at random), with strings
// that look like structure and runs of backslashes before quotes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ListScanner } from '../../../operator/src/kube/list-stream.ts';

/** Scans `text` cut at the given byte offsets; returns what JSON.parse would, items rebuilt. */
function scan(text: string, cuts: number[]): { items: unknown[]; rest: Record<string, unknown> } {
  const bytes = Buffer.from(text);
  const items: unknown[] = [];
  const scanner = new ListScanner<unknown>((item) => items.push(item));
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    scanner.push(bytes.subarray(from, cut));
    from = cut;
  }
  return { items, rest: scanner.end<Record<string, unknown>>() };
}

const tricky = {
  kind: 'PodList',
  apiVersion: 'v1',
  metadata: { resourceVersion: '4711', continue: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDcxMX0' },
  items: [
    { metadata: { name: 'a', labels: { 'x/y': 'items' }, annotations: { note: 'braces } ] { [ and "quotes" and \\ backslashes \\' } }, spec: { list: [[1, 2], { deep: [{}] }] } },
    { metadata: { name: 'ünïcödé-名前', annotations: { emoji: '🚀 model', escaped: '\u0000\u001f\\"}' } }, status: { phase: 'Running', items: ['not', 'the', 'list'] } },
    { metadata: { name: 'c' }, data: { items: [{ kind: 'Nested' }] } },
  ],
};

describe('ListScanner', () => {
  it('gives every item and the list without its items, in one chunk', () => {
    const text = JSON.stringify(tricky);
    const { items, rest } = scan(text, []);
    assert.deepEqual(items, tricky.items);
    assert.deepEqual(rest, { ...tricky, items: [] });
  });

  it('gives the same at every single cut of the answer, pretty-printed too', () => {
    for (const text of [JSON.stringify(tricky), JSON.stringify(tricky, null, 2)]) {
      const bytes = Buffer.byteLength(text);
      for (let cut = 0; cut <= bytes; cut++) {
        const { items, rest } = scan(text, [cut]);
        assert.deepEqual(items, tricky.items, `cut at byte ${cut}`);
        assert.deepEqual(rest, { ...tricky, items: [] }, `cut at byte ${cut}`);
      }
    }
  });

  it('gives the same byte by byte (a multi-byte character split across chunks)', () => {
    const text = JSON.stringify(tricky);
    const cuts = Array.from({ length: Buffer.byteLength(text) - 1 }, (_, i) => i + 1);
    const { items, rest } = scan(text, cuts);
    assert.deepEqual(items, tricky.items);
    assert.deepEqual(rest, { ...tricky, items: [] });
  });

  it('handles items before metadata, an empty list, and a list with no items key', () => {
    const reordered = `{"items":[{"a":1},{"b":"}"}],"metadata":{"resourceVersion":"9"},"kind":"List"}`;
    assert.deepEqual(scan(reordered, [12]), { items: [{ a: 1 }, { b: '}' }], rest: { items: [], metadata: { resourceVersion: '9' }, kind: 'List' } });
    assert.deepEqual(scan('{"metadata":{},"items":[]}', [5]), { items: [], rest: { metadata: {}, items: [] } });
    assert.deepEqual(scan('{"metadata":{"resourceVersion":"1"}}', []), { items: [], rest: { metadata: { resourceVersion: '1' } } });
  });

  it('takes only the array under the key "items": not another top-level array, not a value "items"', () => {
    const text = '{"kind":"items","warnings":[{"a":1}],"x\\"items":[{"b":2}],"items" : [{"c":3}]}';
    const got = scan(text, [20]);
    assert.deepEqual(got.items, [{ c: 3 }]);
    assert.deepEqual(got.rest, { kind: 'items', warnings: [{ a: 1 }], 'x"items': [{ b: 2 }], items: [] });
  });

  it('refuses an answer cut short, and malformed items', () => {
    const text = JSON.stringify(tricky);
    assert.throws(() => scan(text.slice(0, text.length - 10), []), SyntaxError);
    assert.throws(() => scan('{"items":[{"a":}]}', []), SyntaxError);
  });

  it('gives what JSON.parse gives for random lists of strings full of quotes, backslashes and braces, cut anywhere', () => {
    // Strings drawn from the characters the scan must tell apart, so runs of backslashes before a
    // quote (escaped or not) and chunk ends inside an escape come often.
    const text = fc.string({ unit: fc.constantFrom('"', '\\', '\\', 'a', '{', '}', '[', ']', ',', ':', 'é', '🚀', '\n'), maxLength: 12 });
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(text, tie('value'), { maxKeys: 4 })),
    }));
    const list = fc.record({ kind: text, metadata: fc.dictionary(text, value, { maxKeys: 3 }), items: fc.array(fc.dictionary(text, value, { maxKeys: 4 }), { maxLength: 5 }) });
    fc.assert(
      fc.property(list, fc.array(fc.nat(), { maxLength: 8 }), (l, at) => {
        const json = JSON.stringify(l);
        const bytes = Buffer.byteLength(json);
        const cuts = [...new Set(at.map((c) => c % (bytes + 1)))].sort((x, y) => x - y);
        const parsed = JSON.parse(json) as typeof l;
        const { items, rest } = scan(json, cuts);
        assert.deepEqual(items, parsed.items);
        assert.deepEqual(rest, { ...parsed, items: [] });
      }),
      { numRuns: 3000 },
    );
  });
});
