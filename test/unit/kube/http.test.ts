// The transport: the leader's write fence, checked again once the request has a connected socket
// (a write whose fence fails then never reaches the server), and once more right after the bytes
// left (a pause between the check and the send is reported); and the keep-alive pool over TLS.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import https, { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { Registry } from 'prom-client';
import type { Connection } from '../../../operator/src/kube/connection.ts';
import { nodeSender, ServerAgent } from '../../../operator/src/kube/http.ts';
import { RestClient, type LateWrite } from '../../../operator/src/kube/rest.ts';
import { createMetrics } from '../../../operator/src/observability/metrics.ts';
import { clientCert, makePki } from '../../cluster/pki.ts';
import { listenLocal } from '../../cluster/ports.ts';

/** Blocks the whole thread, as SIGSTOP or a long GC pause would. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Listens on a free local port; the server's URL. */
async function listen(server: Server, scheme: 'http' | 'https'): Promise<string> {
  return `${scheme}://127.0.0.1:${await listenLocal(server)}`;
}

/** A connection to a local plain-HTTP server, as loadConnection would describe it. */
function plain(server: string): Connection {
  return { server, tls: { rejectUnauthorized: true }, source: 'test' };
}

/** Closes the server and the connections it still holds. */
function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
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
    url = await listen(server, 'http');
  });
  after(() => close(server));

  it('writes nothing when the check throws once the socket is connected, and rejects with its error', async () => {
    const sender = nodeSender(plain(url));
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
    const sender = nodeSender(plain(url));
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
      { server: url, sender: nodeSender(plain(url)) },
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
    url = await listen(server, 'https');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    return close(server);
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

// Kept-alive sockets the other end closes. The API server closes a connection idle for 90 s and
// announces no limit in its answers: a request sent as it closes fails ("socket hang up").
describe('nodeSender: kept-alive sockets', () => {
  let seen = 0;
  let connections = 0;
  let clientClosed = 0;
  /** What the server does with a connection's n-th request (from 1). */
  let onRequest: (n: number) => 'answer' | 'drop' = () => 'answer';
  let cutAnswer = false;
  const perSocket = new WeakMap<object, number>();
  const server = createServer((req, res) => {
    seen++;
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    // 'drop': closed with no answer, as a server closing an idle connection as the request came.
    if (onRequest(n) === 'drop') return void req.socket.destroy();
    req.resume();
    if (cutAnswer) {
      // The answer begins, then the connection goes.
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('{"partial":');
      return void setTimeout(() => req.socket.resetAndDestroy(), 20);
    }
    req.on('end', () => res.end('{}'));
  });
  // No idle limit of its own and no Keep-Alive header, as the API server's answers carry none.
  server.keepAliveTimeout = 0;
  server.on('connection', (s) => {
    connections++;
    s.on('end', () => clientClosed++);
  });
  let url = '';
  before(async () => {
    url = await listen(server, 'http');
  });
  after(() => close(server));
  const reset = (rule: (n: number) => 'answer' | 'drop'): void => {
    server.closeAllConnections();
    seen = 0;
    connections = 0;
    clientClosed = 0;
    onRequest = rule;
  };
  const sender = (): ReturnType<typeof nodeSender> => nodeSender(plain(url), { idleSocketMs: 150 });

  it('closes a socket left unused for its idle time, before the server would, and opens a new one after', async () => {
    reset(() => 'answer');
    const s = sender();
    await (await s.send({ method: 'GET', path: '/x', headers: {} })).text();
    await (await s.send({ method: 'GET', path: '/x', headers: {} })).text();
    assert.equal(connections, 1, 'kept alive between requests');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(clientClosed, 0, 'not before its idle time');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(clientClosed, 1, 'closed by the client once idle');
    await (await s.send({ method: 'GET', path: '/x', headers: {} })).text();
    assert.equal(connections, 2);
  });

  it('keeps a socket in use however long its answer takes (a quiet watch)', async () => {
    reset(() => 'answer');
    const slow = createServer((req, res) => {
      req.resume();
      setTimeout(() => res.end('late'), 400);
    });
    const slowUrl = await listen(slow, 'http');
    try {
      const s = nodeSender(plain(slowUrl), { idleSocketMs: 100 });
      assert.equal(await (await s.send({ method: 'GET', path: '/watch', headers: {} })).text(), 'late');
    } finally {
      await close(slow);
    }
  });

  it('sends again, once, on a new connection, a request whose kept-alive socket was closed as it left', async () => {
    reset((n) => (n === 2 ? 'drop' : 'answer'));
    const s = sender();
    await (await s.send({ method: 'GET', path: '/x', headers: {} })).text();
    let checks = 0;
    const res = await s.send({ method: 'PATCH', path: '/x', headers: {}, body: '{}', beforeWrite: () => checks++ });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '{}');
    assert.equal(seen, 3, 'the first, the dropped one, and it again');
    assert.equal(connections, 2, 'again on a new connection');
    assert.equal(checks, 2, "the leader's fence is checked again before it leaves again");
  });

  it('goes through every closed socket of its pool until one answers, and never sends again a request that failed on a new connection', async () => {
    reset(() => 'answer');
    const resent: string[] = [];
    const s = sender();
    const get = async (): Promise<string> => (await s.send({ method: 'GET', path: '/x', headers: {}, onResend: (m) => resent.push(m) })).text();
    await Promise.all([get(), get(), get()]);
    assert.equal(connections, 3, 'three sockets kept');
    // The server closes all three as the next request comes (a restart, or all idle at its limit).
    onRequest = (n) => (n === 1 ? 'answer' : 'drop');
    assert.equal(await get(), '{}');
    assert.equal(seen, 3 + 4, 'on each of the three closed sockets, then on a new connection');
    assert.equal(connections, 4);
    assert.deepEqual(resent, ['GET', 'GET', 'GET'], 'each resend reported');
    reset(() => 'drop');
    await assert.rejects(sender().send({ method: 'GET', path: '/x', headers: {} }), (e: Error & { code?: string }) => e.code === 'ECONNRESET');
    assert.equal(seen, 1, 'a new connection that fails is not a closed kept-alive one');
  });

  it('counts each resend in modelship_rest_client_resends_total by method and host, the request once in rest_client_requests_total', async () => {
    reset((n) => (n === 2 ? 'drop' : 'answer'));
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const client = RestClient.forConnection(plain(url), { metrics });
    await (await client.send('GET', '/x')).text();
    await (await client.send('PATCH', '/x', { body: {} })).text();
    assert.equal(seen, 3);
    const host = new URL(url).host;
    const resends = (await metrics.restClientResends.get()).values.map((v) => `${v.labels.method} ${v.labels.host} ${v.value}`);
    assert.deepEqual(resends, [`PATCH ${host} 1`]);
    const requests = (await metrics.restClientRequests.get()).values.map((v) => `${v.labels.method} ${v.labels.code} ${v.value}`);
    assert.deepEqual(requests.sort(), ['GET 200 1', 'PATCH 200 1']);
  });

  it('never sends again a request whose answer had begun', async () => {
    reset(() => 'answer');
    const s = sender();
    await (await s.send({ method: 'GET', path: '/x', headers: {} })).text();
    cutAnswer = true;
    try {
      const res = await s.send({ method: 'GET', path: '/x', headers: {} });
      assert.equal(res.status, 200);
      await assert.rejects(res.text());
    } finally {
      cutAnswer = false;
    }
    assert.equal(seen, 2, 'sent once');
  });
});
