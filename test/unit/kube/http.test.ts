// The leader's write fence, checked again by the transport once the request has a connected socket:
// a write whose fence fails then never reaches the server.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { nodeSender } from '../../../operator/src/kube/http.ts';

describe('nodeSender: beforeWrite', () => {
  let seen = 0;
  const server = createServer((req, res) => {
    seen++;
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  let url = '';
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('writes nothing when the check throws once the socket is connected, and rejects with its error', async () => {
    const sender = nodeSender({ server: url, tls: { rejectUnauthorized: true }, source: 'test' });
    let checks = 0;
    const lost = Object.assign(new Error('not the leader any more'), { name: 'NotLeaderError' });
    await assert.rejects(
      sender.send({ method: 'PATCH', url: new URL(url), headers: {}, body: '{}', beforeWrite: () => {
        checks++;
        throw lost;
      } }),
      /not the leader any more/,
    );
    assert.equal(checks, 1);
    assert.equal(seen, 0, 'the server saw no request');
    const ok = await sender.send({ method: 'PATCH', url: new URL(url), headers: {}, body: '{}', beforeWrite: () => checks++ });
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), '{}');
    assert.equal(checks, 2);
    assert.equal(seen, 1);
  });
});
