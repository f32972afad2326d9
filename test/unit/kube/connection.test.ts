// How the operator reads a kubeconfig (and the in-cluster account) without client-node, and the
// node:https sender it builds from one: the Authorization header per request, streamed bodies.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { fromKubeconfig, inCluster, KubeconfigError, loadConnection, type Connection } from '../../../operator/src/kube/connection.ts';
import { nodeSender } from '../../../operator/src/kube/http.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelship-kubeconfig-'));
writeFileSync(join(dir, 'ca.crt'), 'CA PEM');
writeFileSync(join(dir, 'token'), 'file-token\n');

function config(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'ctx',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443/', 'certificate-authority': 'ca.crt', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'ml' } }, { name: 'other', context: { cluster: 'c', user: 'u' } }],
  });
}

describe('fromKubeconfig', () => {
  it('reads client certificates inline, the CA from a file relative to the kubeconfig, and the namespace', () => {
    const c = fromKubeconfig(config({ 'client-certificate-data': Buffer.from('CERT').toString('base64'), 'client-key-data': Buffer.from('KEY').toString('base64') }), join(dir, 'config')) as Connection;
    assert.equal(c.server, 'https://127.0.0.1:6443');
    assert.equal(c.tls.ca?.toString(), 'CA PEM');
    assert.equal(c.tls.cert?.toString(), 'CERT');
    assert.equal(c.tls.key?.toString(), 'KEY');
    assert.equal(c.tls.rejectUnauthorized, true);
    assert.equal(c.namespace, 'ml');
    assert.equal(c.authorization, undefined);
  });

  it('reads a bearer token, inline or from a file', () => {
    assert.equal((fromKubeconfig(config({ token: 'abc' }), join(dir, 'config')) as Connection).authorization?.(), 'Bearer abc');
    assert.equal((fromKubeconfig(config({ tokenFile: 'token' }), join(dir, 'config')) as Connection).authorization?.(), 'Bearer file-token');
  });

  it('honours insecure-skip-tls-verify and another context', () => {
    const c = fromKubeconfig(config({ token: 'abc' }, { 'insecure-skip-tls-verify': true }), join(dir, 'config'), 'other') as Connection;
    assert.equal(c.tls.rejectUnauthorized, false);
    assert.equal(c.namespace, undefined);
  });

  it('hands exec plugins, auth providers and basic auth to client-node', () => {
    for (const user of [{ exec: { command: 'aws' } }, { 'auth-provider': { name: 'oidc' } }, { username: 'a', password: 'b' }]) {
      assert.deepEqual(fromKubeconfig(config(user), join(dir, 'config')), { clientNode: { file: join(dir, 'config'), context: undefined } });
    }
  });

  it('says what is wrong with a broken kubeconfig', () => {
    assert.throws(() => fromKubeconfig(config({ token: 'a' }), join(dir, 'config'), 'nope'), (e: Error) => e instanceof KubeconfigError && /no context named nope/.test(e.message));
    assert.throws(() => fromKubeconfig(config({ 'client-certificate': 'missing.crt' }), join(dir, 'config')), /Cannot read the client certificate/);
  });
});

describe('inCluster and loadConnection', () => {
  it('reads the service account the way client-go does', () => {
    const c = inCluster({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, dir);
    assert.equal(c?.server, 'https://10.96.0.1:443');
    assert.equal(c?.authorization?.(), 'Bearer file-token');
    assert.equal(inCluster({}, dir), undefined, 'not in a pod');
  });

  it('prefers --kubeconfig, then KUBECONFIG, and says when there is nothing', () => {
    writeFileSync(join(dir, 'config'), config({ token: 'from-file' }));
    const c = loadConnection({ env: { KUBECONFIG: `${join(dir, 'absent')}:${join(dir, 'config')}`, HOME: dir } }) as Connection;
    assert.equal(c.authorization?.(), 'Bearer from-file');
    assert.throws(() => loadConnection({ kubeconfig: join(dir, 'absent') }), /does not exist/);
    assert.throws(() => loadConnection({ env: { HOME: join(dir, 'nohome') } }), /No kubeconfig/);
  });
});

describe('nodeSender', () => {
  it('sends the Authorization header of each request and streams the body in chunks', async () => {
    let seen = '';
    const server = createServer((req, res) => {
      seen = req.headers.authorization ?? '';
      res.write('{"a":1}\n');
      setTimeout(() => res.end('{"b":2}\n'), 20);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    let n = 0;
    const sender = nodeSender({ server: `http://127.0.0.1:${port}`, tls: { rejectUnauthorized: true }, authorization: () => `Bearer t${++n}`, source: 'test' });
    const res = await sender.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/x`), headers: {} });
    assert.equal(res.status, 200);
    const chunks: string[] = [];
    for await (const c of res.chunks()) chunks.push(c.toString());
    assert.deepEqual(chunks, ['{"a":1}\n', '{"b":2}\n']);
    assert.equal(seen, 'Bearer t1');
    await (await sender.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/x`), headers: {} })).text();
    assert.equal(seen, 'Bearer t2', 'read again for every request (a rotating token)');
    const aborted = new AbortController();
    const pending = sender.send({ method: 'GET', url: new URL(`http://127.0.0.1:${port}/x`), headers: {}, signal: aborted.signal }).then((r) => r.text());
    aborted.abort();
    await assert.rejects(pending, (e: Error) => e.name === 'AbortError');
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
});
