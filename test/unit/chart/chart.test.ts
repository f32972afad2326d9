import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { parseConfig, USAGE } from '../../../operator/src/config.ts';
import { createMetrics } from '../../../operator/src/observability/metrics.ts';
import { readChartFile, repoRoot } from './chart-files.ts';

interface ChartYaml {
  apiVersion: string;
  name: string;
  version: string;
  appVersion: string;
  kubeVersion: string;
  type: string;
}

const chart = parse(readChartFile('Chart.yaml')) as ChartYaml;
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };

describe('Chart.yaml', () => {
  it('is a Helm 3+ application chart named like its directory, for Kubernetes 1.30 and later', () => {
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'modelship');
    assert.equal(chart.type, 'application');
    assert.equal(chart.kubeVersion, '>=1.30.0-0');
    assert.match(chart.version, /^\d+\.\d+\.\d+$/);
  });

  it('has the operator version as appVersion, which is the default image tag', () => {
    assert.equal(chart.appVersion, pkg.version);
  });
});

// The container args, as written in the Deployment template (one `- --flag...` a line).
const deploymentText = readChartFile('templates/deployment.yaml');
const argLines = deploymentText
  .split('\n')
  .map((l) => /^\s*- (--[a-z-]+)(=.*)?$/.exec(l))
  .filter((m): m is RegExpExecArray => m !== null);

describe('operator Deployment args', () => {
  it('pass the operator settings the chart documents', () => {
    const flags = argLines.map((m) => m[1]);
    for (const flag of [
      '--log-level',
      '--concurrency',
      '--watch-namespaces',
      '--runtime-image',
      '--model-fetcher-image',
      '--leader-elect',
      '--leader-election-namespace',
      '--leader-election-id',
      '--shutdown-timeout-seconds',
      '--watch-inactivity-timeout-seconds',
      '--metrics-bind-address',
      '--health-probe-bind-address',
      '--cluster-domain',
    ]) {
      assert.ok(flags.includes(flag), `the Deployment does not pass ${flag}`);
    }
  });

  it('use only flags the operator knows', () => {
    for (const m of argLines) {
      const flag = m[1] ?? '';
      assert.ok(USAGE.includes(`  ${flag}=`) || USAGE.includes(`  ${flag}[`), `${flag} is not in the operator's --help`);
    }
  });

  it('are accepted by the operator with the default values filled in', () => {
    // The values as the default values.yaml and ci/all-values.yaml render them.
    const argv = [
      '--log-level=debug',
      '--concurrency=8',
      '--shutdown-timeout-seconds=20',
      '--watch-inactivity-timeout-seconds=90',
      '--metrics-bind-address=:8080',
      '--health-probe-bind-address=:8081',
      '--watch-namespaces=team-a,team-b',
      '--runtime-image=mlserver=registry.example.com/seldonio/mlserver:1.6.1',
      '--runtime-image=triton=registry.example.com/nvidia/tritonserver:24.08-py3',
      '--model-fetcher-image=registry.example.com/platform/model-fetcher:0.1.0',
      '--cluster-domain=cluster.example',
      '--leader-elect',
      '--leader-election-namespace=modelship-system',
      '--leader-election-id=modelship-operator',
    ];
    // Each rendered arg's shape must be one of these.
    for (const m of argLines) assert.ok(argv.some((a) => a.startsWith(`${m[1]}`)), `no sample for ${m[1]}`);
    const config = parseConfig(argv, {});
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.concurrency, 8);
    assert.deepEqual(config.watchNamespaces, ['team-a', 'team-b']);
    assert.deepEqual(config.runtimeImages, {
      mlserver: 'registry.example.com/seldonio/mlserver:1.6.1',
      triton: 'registry.example.com/nvidia/tritonserver:24.08-py3',
    });
    assert.equal(config.leaderElect, true);
    assert.equal(config.leaderElectionNamespace, 'modelship-system');
    assert.equal(config.leaderElectionId, 'modelship-operator');
    assert.equal(config.shutdownTimeoutSeconds, 20);
    assert.equal(config.watchInactivityTimeoutSeconds, 90);
    assert.equal(parseConfig(['--leader-elect=false'], {}).leaderElect, false);
  });

  it('expose the ports the operator listens on by default, named as the probes and Service use them', () => {
    const defaults = parseConfig([], {});
    assert.equal(defaults.metricsBindAddress?.port, 8080);
    assert.equal(defaults.healthProbeBindAddress.port, 8081);
    assert.match(deploymentText, /- name: metrics\n\s+containerPort: 8080/);
    assert.match(deploymentText, /- name: health\n\s+containerPort: 8081/);
  });
});

// Metric names and labels the alerts and the dashboard use must exist in the operator.
const TARGET_LABELS = new Set(['job', 'namespace', 'instance', 'pod', 'service', 'endpoint', 'container']);

async function exportedMetrics(): Promise<Map<string, Set<string>>> {
  const m = createMetrics(new Registry(), { defaultMetrics: false });
  const byName = new Map<string, Set<string>>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    const labels = new Set(labelNamesOf(m.registry.getSingleMetric(metric.name)));
    if (String(metric.type) === 'histogram') {
      byName.set(`${metric.name}_bucket`, new Set([...labels, 'le']));
      byName.set(`${metric.name}_count`, labels);
      byName.set(`${metric.name}_sum`, labels);
    } else {
      byName.set(metric.name, labels);
    }
  }
  return byName;
}

function labelNamesOf(metric: object | undefined): string[] {
  // prom-client keeps labelNames on the metric object.
  const names = (metric as { labelNames?: unknown } | undefined)?.labelNames;
  return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : [];
}

function prometheusRuleExprs(): string[] {
  const text = readChartFile('templates/prometheusrule.yaml');
  const exprs: string[] = [];
  const re = /expr: \|\n((?:\s{12}.*\n)+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) exprs.push((m[1] ?? '').replace(/\{ \{\{- \$selector -\}\} \}/g, '{}'));
  return exprs;
}

function dashboardExprs(): string[] {
  const dashboard = JSON.parse(readChartFile('dashboards/modelship-operator.json')) as { panels: { targets: { expr: string }[] }[] };
  return dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
}

function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/([a-z_:][a-z0-9_:]*)\{/g)].map((m) => m[1] ?? '');
}

function groupingLabelsIn(expr: string): string[] {
  return [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => (m[1] ?? '').split(',').map((s) => s.trim()));
}

describe('alerts and dashboard', () => {
  it('the PrometheusRule has the reconcile-error, stalled-queue, no-leader and late-write alerts', () => {
    const text = readChartFile('templates/prometheusrule.yaml');
    for (const alert of ['ModelshipReconcileErrors', 'ModelshipWorkQueueStalled', 'ModelshipReconcileStuck', 'ModelshipNoLeader', 'ModelshipLeaderLateWrites']) {
      assert.match(text, new RegExp(`- alert: ${alert}\\n`));
    }
    const exprs = prometheusRuleExprs();
    assert.equal(exprs.length, 5);
    assert.match(exprs[0] ?? '', /rate\(controller_runtime_reconcile_errors_total\{\}\[5m\]\)\) > 0/);
    assert.match(exprs[1] ?? '', /workqueue_depth\{\}\) > 0/);
    assert.match(exprs[3] ?? '', /max\(leader_election_master_status\{\}\) == 0/);
    assert.match(exprs[4] ?? '', /increase\(modelship_leader_late_writes_total\{\}\[15m\]\)\) > 0/);
  });

  it('uses only metrics the operator exports, grouped only by labels they carry', async () => {
    const exported = await exportedMetrics();
    const exprs = [...prometheusRuleExprs(), ...dashboardExprs()];
    assert.ok(exprs.length > 10);
    for (const expr of exprs) {
      const names = metricsIn(expr);
      assert.ok(names.length > 0, `no metric in ${expr}`);
      const labels = new Set(TARGET_LABELS);
      for (const name of names) {
        const known = exported.get(name);
        assert.ok(known, `${name} is not exported by operator/src/observability/metrics.ts (in ${expr})`);
        for (const l of known) labels.add(l);
      }
      for (const label of groupingLabelsIn(expr)) assert.ok(labels.has(label), `label ${label} is not on ${names.join(', ')} (in ${expr})`);
    }
  });

  it('the dashboard ConfigMap carries the grafana_dashboard label and the dashboard file', () => {
    const text = readChartFile('templates/dashboard-configmap.yaml');
    assert.match(text, /grafana_dashboard: "1"/);
    assert.match(text, /\.Files\.Get "dashboards\/modelship-operator\.json"/);
  });
});
