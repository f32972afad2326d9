import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { Checks, startHealthServer, startMetricsServer } from '../../../operator/src/observability/health.ts';
import { createMetrics } from '../../../operator/src/observability/metrics.ts';

const local = { host: '127.0.0.1', port: 0 };

describe('health server', () => {
  it('serves /healthz and a /readyz that follows its checks', async () => {
    const live = new Checks();
    live.add('ping', () => true);
    const ready = new Checks();
    let synced = false;
    ready.add('informers-synced', () => synced);
    const srv = await startHealthServer(local, live, ready);
    try {
      const base = `http://127.0.0.1:${srv.port}`;
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const notReady = await fetch(`${base}/readyz`);
      assert.equal(notReady.status, 500);
      assert.match(await notReady.text(), /informers-synced/);
      synced = true;
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      assert.equal((await fetch(`${base}/metrics`)).status, 404, 'metrics live on their own port');
      assert.equal((await fetch(`${base}/readyz`, { method: 'POST' })).status, 405);
    } finally {
      await srv.close();
    }
  });

  it('treats a throwing check as failing', () => {
    const c = new Checks();
    c.add('bad', () => {
      throw new Error('x');
    });
    c.add('good', () => true);
    assert.deepEqual(c.failing(), ['bad']);
  });
});

describe('metrics server', () => {
  it('serves the registry in the Prometheus text format', async () => {
    const registry = new Registry();
    createMetrics(registry);
    new Counter({ name: 'test_counter_total', help: 'test', registers: [registry] }).inc(3);
    const srv = await startMetricsServer(local, registry);
    try {
      const res = await fetch(`http://127.0.0.1:${srv.port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const text = await res.text();
      assert.match(text, /^test_counter_total 3$/m);
      assert.match(text, /process_cpu_user_seconds_total/, 'default process metrics');
      assert.match(text, /# TYPE workqueue_depth gauge/);
      assert.match(text, /# TYPE rest_client_requests_total counter/);
      assert.match(text, /# TYPE leader_election_master_status gauge/);
    } finally {
      await srv.close();
    }
  });

  it('fails clearly when the port is taken', async () => {
    const registry = new Registry();
    const first = await startMetricsServer(local, registry);
    try {
      await assert.rejects(startMetricsServer({ host: '127.0.0.1', port: first.port }, registry), /EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});
