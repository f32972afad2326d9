// How the operator reads a kubeconfig (and the in-cluster account) without client-node, and the
// node:https sender it builds from one: the Authorization header per request, streamed bodies.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { fromMergedKubeconfig, inCluster, KubeconfigError, loadConnection, mergeKubeconfigs, type Connection } from '../../../operator/src/kube/connection.ts';
import { nodeSender } from '../../../operator/src/kube/http.ts';
import { RestClient } from '../../../operator/src/kube/rest.ts';

/** One kubeconfig file's text read as loadConnection reads the files it finds. */
const fromKubeconfig = (text: string, file: string, context?: string) => fromMergedKubeconfig(mergeKubeconfigs([{ text, file }]), file, context);

const dir = mkdtempSync(join(tmpdir(), 'modelship-kubeconfig-'));
after(() => rmSync(dir, { recursive: true, force: true }));
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

  it('hands exec plugins, auth providers and basic auth to client-node, with the kubeconfig\'s file paths made absolute', () => {
    for (const user of [{ exec: { command: 'aws' } }, { 'auth-provider': { name: 'oidc' } }, { username: 'a', password: 'b' }]) {
      const found = fromKubeconfig(config(user), join(dir, 'config'), 'other');
      assert.ok('clientNode' in found);
      assert.equal(found.clientNode.source, join(dir, 'config'));
      assert.equal(found.clientNode.context, 'other');
      const cfg = JSON.parse(found.clientNode.config) as { clusters: { cluster: Record<string, unknown> }[]; users: { user: unknown }[] };
      assert.equal(cfg.clusters[0]?.cluster['certificate-authority'], join(dir, 'ca.crt'));
      assert.deepEqual(cfg.users[0]?.user, user);
    }
  });

  it('client-node sends what an exec plugin of the handed kubeconfig prints', async () => {
    let seen = '';
    const server = createServer((req, res) => {
      seen = req.headers.authorization ?? '';
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'exec-token' } });
      const exec = { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: ['-e', `console.log(${JSON.stringify(credential)})`], interactiveMode: 'Never' };
      const found = fromKubeconfig(config({ exec }, { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true }), join(dir, 'config'));
      assert.ok('clientNode' in found);
      const { clientNodeSender } = await import('../../../operator/src/kube/client-node-sender.ts');
      const { server: url, namespace, sender } = clientNodeSender(found.clientNode.config, found.clientNode.source, found.clientNode.context);
      assert.equal(url, `http://127.0.0.1:${port}`);
      assert.equal(namespace, 'ml');
      const res = await sender.send({ method: 'GET', path: '/version', headers: {} });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), '{}');
      assert.equal(seen, 'Bearer exec-token');
      // The write fence is checked after the exec plugin ran, right before the request is sent.
      seen = '';
      const lost = Object.assign(new Error('not the leader any more'), { name: 'NotLeaderError' });
      await assert.rejects(
        sender.send({ method: 'PATCH', path: '/x', headers: {}, body: '{}', beforeWrite: () => {
          throw lost;
        } }),
        /not the leader any more/,
      );
      assert.equal(seen, '', 'the server saw no request');
      let checks = 0;
      const ok = await sender.send({ method: 'PATCH', path: '/x', headers: {}, body: '{}', beforeWrite: () => checks++ });
      assert.equal(ok.status, 200);
      assert.equal(checks, 1);
      assert.equal(seen, 'Bearer exec-token');
    } finally {
      server.close();
    }
  });

  it('says what is wrong with a broken kubeconfig', () => {
    assert.throws(() => fromKubeconfig(config({ token: 'a' }), join(dir, 'config'), 'nope'), (e: Error) => e instanceof KubeconfigError && /no context named nope/.test(e.message));
    assert.throws(() => fromKubeconfig(config({ 'client-certificate': 'missing.crt' }), join(dir, 'config')), /Cannot read the client certificate/);
    for (const server of ['not a url', 'ftp://10.0.0.1:21', 'https://']) {
      assert.throws(() => fromKubeconfig(config({ token: 'a' }, { server }), join(dir, 'config')), (e: Error) => e instanceof KubeconfigError && e.message.includes(`the cluster of context ctx has a server that is not`) && e.message.includes(`"${server}"`), server);
    }
  });

  it('reads a server without a scheme as client-go does: https with TLS configured, http without', () => {
    const server = (cluster: Record<string, unknown>) => (fromKubeconfig(config({ token: 'a' }, cluster), join(dir, 'config')) as Connection).server;
    assert.equal(server({ server: '10.0.0.1:6443' }), 'https://10.0.0.1:6443', 'with a CA');
    assert.equal(server({ server: '10.0.0.1:6443', 'certificate-authority': undefined, 'insecure-skip-tls-verify': true }), 'https://10.0.0.1:6443');
    assert.equal(server({ server: 'localhost:8080', 'certificate-authority': undefined }), 'http://localhost:8080');
    assert.equal(server({ server: 'https://k8s.example/proxy/c-1/' }), 'https://k8s.example/proxy/c-1');
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

  it('merges the files of KUBECONFIG as kubectl does: the first to name an entry or set current-context wins, paths relative to their own file', () => {
    const a = mkdtempSync(join(dir, 'a-'));
    const b = mkdtempSync(join(dir, 'b-'));
    writeFileSync(join(a, 'ca.crt'), 'CA of a');
    writeFileSync(join(b, 'token'), 'token of b\n');
    writeFileSync(join(a, 'config'), stringify({
      'current-context': 'prod',
      clusters: [{ name: 'prod-cluster', cluster: { server: 'https://prod:6443', 'certificate-authority': 'ca.crt' } }],
      users: [{ name: 'shared', user: { token: 'token of a' } }],
    }));
    writeFileSync(join(b, 'config'), stringify({
      'current-context': 'dev',
      clusters: [{ name: 'prod-cluster', cluster: { server: 'https://not-this-one:6443' } }, { name: 'dev-cluster', cluster: { server: 'https://dev:6443' } }],
      users: [{ name: 'shared', user: { token: 'not this one' } }, { name: 'prod-user', user: { tokenFile: 'token' } }],
      contexts: [{ name: 'prod', context: { cluster: 'prod-cluster', user: 'prod-user', namespace: 'serving' } }, { name: 'dev', context: { cluster: 'dev-cluster', user: 'shared' } }],
    }));
    const env = { KUBECONFIG: [join(a, 'config'), join(dir, 'absent'), join(b, 'config')].join(delimiter), HOME: dir };
    const prod = loadConnection({ env }) as Connection;
    assert.equal(prod.server, 'https://prod:6443', 'current-context from the first file that sets it; its cluster from the first file that names it');
    assert.equal(prod.tls.ca?.toString(), 'CA of a', 'the CA relative to the first file');
    assert.equal(prod.authorization?.(), 'Bearer token of b', 'the token file relative to the second file');
    assert.equal(prod.namespace, 'serving');
    assert.equal(prod.source, `${join(a, 'config')}${delimiter}${join(b, 'config')} (context prod)`);
    const dev = loadConnection({ env, context: 'dev' }) as Connection;
    assert.equal(dev.server, 'https://dev:6443');
    assert.equal(dev.authorization?.(), 'Bearer token of a', 'a user named twice: the first file wins');
    assert.throws(() => loadConnection({ env, context: 'staging' }), /has no context named staging/);
  });

  it('reads no ~/.kube/config when KUBECONFIG is set, and --kubeconfig alone when given', () => {
    const home = mkdtempSync(join(dir, 'home-'));
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube', 'config'), config({ token: 'from-home' }));
    writeFileSync(join(home, '.kube', 'ca.crt'), 'CA PEM');
    assert.equal((loadConnection({ env: { HOME: home } }) as Connection).authorization?.(), 'Bearer from-home');
    assert.throws(() => loadConnection({ env: { KUBECONFIG: join(dir, 'absent'), HOME: home } }), /No kubeconfig/);
    writeFileSync(join(dir, 'explicit'), config({ token: 'explicit' }));
    assert.equal((loadConnection({ kubeconfig: join(dir, 'explicit'), env: { KUBECONFIG: join(home, '.kube', 'config'), HOME: home } }) as Connection).authorization?.(), 'Bearer explicit');
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
    const res = await sender.send({ method: 'GET', path: '/x', headers: {} });
    assert.equal(res.status, 200);
    const chunks: string[] = [];
    await res.each((c) => chunks.push(c.toString()));
    assert.deepEqual(chunks, ['{"a":1}\n', '{"b":2}\n']);
    assert.equal(seen, 'Bearer t1');
    await (await sender.send({ method: 'GET', path: '/x', headers: {} })).text();
    assert.equal(seen, 'Bearer t2', 'read again for every request (a rotating token)');
    const aborted = new AbortController();
    const pending = sender.send({ method: 'GET', path: '/x', headers: {}, signal: aborted.signal }).then((r) => r.text());
    aborted.abort();
    await assert.rejects(pending, (e: Error) => e.name === 'AbortError');
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("sends to the path under the server's own path (a cluster behind a proxy), with the query RestClient encodes", async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/k8s/clusters/c-1/`;
    try {
      const rest = new RestClient({ server: base, sender: nodeSender({ server: base, tls: { rejectUnauthorized: true }, source: 'test' }) });
      const labelSelector = 'app.kubernetes.io/managed-by!=modelship,tier in (a b),x=1&y';
      await rest.request('GET', '/api/v1/pods', { query: { labelSelector, limit: 500, continue: undefined } });
      assert.equal(seen.length, 1);
      const got = new URL(seen[0] as string, 'http://x');
      assert.equal(got.pathname, '/k8s/clusters/c-1/api/v1/pods');
      assert.deepEqual([...got.searchParams], [['labelSelector', labelSelector], ['limit', '500']]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('reads a body whole across chunks; a body cut off before its end, or whose reader throws, fails', async () => {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"items":[');
      if (req.url === '/cut') setTimeout(() => req.socket.destroy(), 20);
      else setTimeout(() => res.end('1,2]}'), 20);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const sender = nodeSender({ server: base, tls: { rejectUnauthorized: true }, source: 'test' });
    try {
      assert.equal(await (await sender.send({ method: 'GET', path: '/whole', headers: {} })).text(), '{"items":[1,2]}');
      const cut = await sender.send({ method: 'GET', path: '/cut', headers: {} });
      await assert.rejects(cut.text(), (e: Error & { code?: string }) => e.code === 'ECONNRESET' || e.code === 'ERR_STREAM_PREMATURE_CLOSE');
      // A reader that throws drops the body, and its error is the answer's.
      const thrown = new Error('not JSON');
      const read = await sender.send({ method: 'GET', path: '/whole', headers: {} });
      let calls = 0;
      await assert.rejects(read.each(() => {
        calls++;
        throw thrown;
      }), (e) => e === thrown);
      assert.equal(calls, 1, 'no chunk after the throw');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
