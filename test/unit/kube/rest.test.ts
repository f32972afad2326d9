// RestClient's per-request signal: the caller's signal and the timeout abort a request, and both
// are let go as soon as the body is read, so no response stays reachable for the whole timeout.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import type { HttpRequest, HttpResponse, HttpSender } from '../../../operator/src/kube/http.ts';
import { RestClient } from '../../../operator/src/kube/rest.ts';

/** A sender that answers at once with a body, or never (until its signal aborts). */
function sender(hang = false): HttpSender & { seen: HttpRequest[] } {
  const seen: HttpRequest[] = [];
  return {
    seen,
    send(req) {
      seen.push(req);
      if (hang) {
        if (req.signal?.aborted) return Promise.reject(req.signal.reason);
        return new Promise((_, reject) => req.signal?.addEventListener('abort', () => reject(req.signal?.reason), { once: true }));
      }
      const res: HttpResponse = { status: 200, text: async () => '{"ok":true}', each: async (onChunk) => onChunk(Buffer.from('{"type":"ADDED"}\n')), cancel: () => undefined };
      return Promise.resolve(res);
    },
  };
}

test('reading the body lets go of the caller signal (no listener left behind)', async () => {
  const s = sender();
  const rest = new RestClient({ server: 'http://127.0.0.1:1', sender: s });
  const parent = new AbortController();
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  for (let i = 0; i < 50; i++) assert.deepEqual(await rest.request('GET', '/x', { signal: parent.signal }), { ok: true });
  assert.equal(getEventListeners(parent.signal, 'abort').length, 0);
  assert.equal(timers(), before, 'every request cleared its timeout timer');
  // A streamed body lets go when the stream ends.
  const res = await rest.send('GET', '/w', { signal: parent.signal, timeoutMs: 0 });
  assert.equal(getEventListeners(parent.signal, 'abort').length, 1);
  await res.each(() => {});
  assert.equal(getEventListeners(parent.signal, 'abort').length, 0);
});

test('the caller signal aborts the request with its reason', async () => {
  const rest = new RestClient({ server: 'http://127.0.0.1:1', sender: sender(true) });
  const parent = new AbortController();
  const pending = rest.request('GET', '/x', { signal: parent.signal });
  parent.abort(Object.assign(new Error('lease lost'), { name: 'AbortError' }));
  await assert.rejects(pending, /lease lost/);
  assert.equal(getEventListeners(parent.signal, 'abort').length, 0);
});

test('the timeout aborts a request with a TimeoutError', async () => {
  const rest = new RestClient({ server: 'http://127.0.0.1:1', sender: sender(true) });
  await assert.rejects(rest.request('GET', '/x', { timeoutMs: 20 }), (err: Error) => err.name === 'TimeoutError');
});

test('an already aborted caller signal never reaches the wire as a live request', async () => {
  const s = sender(true);
  const rest = new RestClient({ server: 'http://127.0.0.1:1', sender: s });
  await assert.rejects(rest.request('GET', '/x', { signal: AbortSignal.abort(new Error('gone')) }), /gone/);
  assert.equal(s.seen[0]?.signal?.aborted, true);
});
