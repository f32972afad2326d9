// The test control plane itself: a real apiserver at the pinned version, the Deployment and
// ReplicaSet controllers, the scheduler, kwok making pods Ready, and garbage collection.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readVersions } from '../cluster/build.ts';
import { auditEvents, cluster, eventually, getJson, kubectl, useNamespace } from './harness.ts';

interface Obj {
  metadata: { name: string; uid: string; ownerReferences?: { uid: string; controller?: boolean }[] };
  spec?: { nodeName?: string };
  status?: { readyReplicas?: number; conditions?: { type: string; status: string }[] };
}

function runNode(script: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('test control plane', () => {
  it('answers /readyz with ok', () => {
    assert.equal(kubectl(['get', '--raw', '/readyz']).trim(), 'ok');
  });

  it('reports the pinned Kubernetes version to kubectl version', () => {
    const pinned = readVersions().kubernetes;
    const v = JSON.parse(kubectl(['version', '-o', 'json'])) as {
      serverVersion: { gitVersion: string; minor: string };
      clientVersion: { gitVersion: string };
    };
    assert.equal(v.serverVersion.gitVersion, pinned);
    assert.equal(v.clientVersion.gitVersion, pinned);
    assert.equal(v.serverVersion.minor, pinned.split('.')[1]);
  });

  it('runs a Deployment to Ready pods through kwok, then garbage-collects it', async (t) => {
    const ns = useNamespace(t);
    kubectl(['create', 'deployment', 'web', '--image=registry.example/web:1', '--replicas=3', '-n', ns]);
    const dep = await eventually('the Deployment to report 3 ready replicas', () => {
      const d = getJson<Obj>(['get', 'deployment', 'web', '-n', ns]);
      return d.status?.readyReplicas === 3 ? d : undefined;
    });
    const rsList = getJson<{ items: Obj[] }>(['get', 'replicasets', '-n', ns]).items;
    assert.equal(rsList.length, 1);
    const rs = rsList[0]!;
    assert.equal(rs.metadata.ownerReferences?.[0]?.uid, dep.metadata.uid);
    const pods = getJson<{ items: Obj[] }>(['get', 'pods', '-n', ns]).items;
    assert.equal(pods.length, 3);
    for (const p of pods) {
      assert.equal(p.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid);
      assert.match(p.spec?.nodeName ?? '', /^kwok-node-/, 'the scheduler bound the pod to a kwok node');
      assert.equal(p.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    }

    kubectl(['delete', 'deployment', 'web', '-n', ns, '--wait=false']);
    await eventually('the garbage collector to delete the ReplicaSet and pods', () => {
      const left = getJson<{ items: Obj[] }>(['get', 'replicasets,pods', '-n', ns]).items;
      return left.length === 0;
    });

    const writes = auditEvents().filter((e) => e.objectRef?.namespace === ns && e.verb === 'create' && e.objectRef.resource === 'deployments');
    assert.equal(writes.length, 1, 'the audit log recorded the Deployment create');
    assert.equal(writes[0]?.user.username, 'admin');
  });

  it('records an audit log at Metadata level in .cluster/audit.log', () => {
    const c = cluster();
    assert.ok(c.auditLog.endsWith(join('.cluster', 'audit.log')));
    const first = JSON.parse(readFileSync(c.auditLog, 'utf8').split('\n')[0]!) as { level: string };
    assert.equal(first.level, 'Metadata');
  });

  it('fails to start with the component name and its log when a port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'modelship-cluster-'));
    try {
      const up = join(import.meta.dirname, '..', 'cluster', 'up.ts');
      const r = await runNode(up, { MODELSHIP_CLUSTER_DIR: dir, MODELSHIP_APISERVER_PORT: String(port) });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /kube-apiserver exited/);
      assert.match(r.stderr, /address already in use/);
      assert.doesNotMatch(r.stdout, /export KUBECONFIG/);
    } finally {
      taken.close();
    }
    // Stopping a cluster that is not there, twice, is harmless.
    const down = join(import.meta.dirname, '..', 'cluster', 'down.ts');
    for (let i = 0; i < 2; i++) {
      const r = await runNode(down, { MODELSHIP_CLUSTER_DIR: dir });
      assert.equal(r.code, 0, r.stderr);
    }
  });
});
