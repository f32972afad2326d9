// The transport: the leader's write fence, checked again once the request has a connected socket
// (a write whose fence fails then never reaches the server), and once more right after the bytes
// left (a pause between the check and the send is reported); and the keep-alive pool over TLS.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import https, { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { Registry } from 'prom-client';
import { nodeSender, ServerAgent } from '../../../operator/src/kube/http.ts';
import { RestClient, type LateWrite } from '../../../operator/src/kube/rest.ts';
import { createMetrics } from '../../../operator/src/observability/metrics.ts';
import { clientCert, makePki } from '../../cluster/pki.ts';

/** Blocks the whole thread, as SIGSTOP or a long GC pause would. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

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
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('writes nothing when the check throws once the socket is connected, and rejects with its error', async () => {
    const sender = nodeSender({ server: url, tls: { rejectUnauthorized: true }, source: 'test' });
    let checks = 0;
    const lost = Object.assign(new Error('not the leader any more'), { name: 'NotLeaderError' });
    await assert.rejects(
      sender.send({ method: 'PATCH', path: '/x', headers: {}, body: '{}', beforeWrite: () => {
        checks++;
        throw lost;
      } }),
      /not the leader any more/,
    );
    assert.equal(checks, 1);
    assert.equal(seen, 0, 'the server saw no request');
    const ok = await sender.send({ method: 'PATCH', path: '/x', headers: {}, body: '{}', beforeWrite: () => checks++ });
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), '{}');
    assert.equal(checks, 2);
    assert.equal(seen, 1);
  });

  it('calls afterWrite once the bytes are out, with the time since the check began', async () => {
    const sender = nodeSender({ server: url, tls: { rejectUnauthorized: true }, source: 'test' });
    const before = seen;
    const after: number[] = [];
    // A pause inside the check stands for one between the check and the send.
    const res = await sender.send({ method: 'PATCH', path: '/x', headers: {}, body: '{}', beforeWrite: () => pause(40), afterWrite: (ms) => after.push(ms) });
    await res.text();
    assert.equal(seen, before + 1);
    assert.equal(after.length, 1, 'called once');
    assert.ok((after[0] as number) >= 40, `the pause shows: ${after[0]} ms`);
  });

  it('RestClient reports a write whose fence closed while it was being sent, and only that one', async () => {
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const late: LateWrite[] = [];
    let lapsed = false;
    let pauseAt = 0;
    let checks = 0;
    const rest = new RestClient(
      { server: url, sender: nodeSender({ server: url, tls: { rejectUnauthorized: true }, source: 'test' }) },
      {
        metrics,
        writeFence: () => {
          checks++;
          if (lapsed) throw Object.assign(new Error('not the leader any more'), { name: 'NotLeaderError' });
          if (checks === pauseAt) {
            // The check passed; then the process stops until its lease has lapsed.
            pause(30);
            lapsed = true;
          }
        },
        onLateWrite: (w) => late.push(w),
      },
    );
    const before = seen;
    await rest.request('PATCH', '/x', { query: { fieldManager: 'modelship', force: true }, body: {}, contentType: 'application/apply-patch+yaml' });
    assert.equal(late.length, 0, 'a write sent while the fence held is not reported');
    assert.equal(checks, 3, 'checked before the request, on the connected socket, and after the bytes left');

    checks = 0;
    pauseAt = 2; // the transport's check, right before the bytes leave
    await rest.request('PATCH', '/x', { query: { fieldManager: 'modelship', force: true }, body: {}, contentType: 'application/apply-patch+yaml' });
    assert.equal(seen, before + 2, 'the write left: no check can recall it');
    assert.equal(late.length, 1);
    assert.equal(late[0]?.method, 'PATCH');
    assert.equal(late[0]?.uri, '/x?fieldManager=modelship&force=true', "the audit log's requestURI");
    assert.ok((late[0]?.sinceCheckMs ?? 0) >= 30, `the pause shows: ${late[0]?.sinceCheckMs} ms`);

    await assert.rejects(rest.request('PATCH', '/x', { body: {} }), /not the leader any more/);
    assert.equal(seen, before + 2, 'refused before it left');
    assert.equal(late.length, 1, 'a refused write is not a late one');
    await rest.request('GET', '/x');
    assert.equal(late.length, 1, 'reads are not fenced');
  });
});

// The keep-alive pool over TLS with a client certificate, as the operator talks to the API server:
// one pool per connection, named by the server, not by the TLS material of every request.
describe('nodeSender over TLS: one keep-alive pool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-tls-'));
  makePki(dir);
  const client = clientCert(dir, 'pool-test');
  const read = (f: string) => readFileSync(join(dir, f));
  let connections = 0;
  const server = createHttpsServer({ ca: read('ca.crt'), cert: read('apiserver.crt'), key: read('apiserver.key'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    req.resume();
    req.on('end', () => res.end(JSON.stringify({ user: (req.socket as TLSSocket).getPeerCertificate().subject?.CN })));
  });
  server.on('secureConnection', () => connections++);
  let url = '';
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
    return new Promise<void>((r) => server.close(() => r()));
  });

  it('sends every request with the client certificate over the sockets it keeps, one per request in flight', async () => {
    const sender = nodeSender({ server: url, tls: { ca: read('ca.crt'), cert: readFileSync(client.cert), key: readFileSync(client.key), rejectUnauthorized: true }, source: 'test' });
    const get = async () => JSON.parse(await (await sender.send({ method: 'GET', path: '/x', headers: {} })).text()) as { user?: string };
    for (let i = 0; i < 5; i++) assert.deepEqual(await get(), { user: 'pool-test' });
    assert.equal(connections, 1, 'five requests one after another: one connection');
    await Promise.all([get(), get(), get()]);
    assert.ok(connections <= 3, `three at once: at most three connections (${connections})`);
    const before = connections;
    for (let i = 0; i < 5; i++) await get();
    assert.equal(connections, before, 'and the kept sockets serve what comes next');
  });

  it('names the pool by the server, whatever the TLS options (Node builds the name from the CA, certificate and key texts)', () => {
    const agent = new ServerAgent(url, { keepAlive: true });
    assert.equal(agent.getName(), url);
    assert.equal(new https.Agent().getName({ host: '127.0.0.1', port: 1, ca: read('ca.crt').toString() }).includes('BEGIN CERTIFICATE'), true, 'what ServerAgent avoids');
    agent.destroy();
  });
});
