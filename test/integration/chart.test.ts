// The Helm chart on the real control plane, with both Helm majors (helm = Helm 4, helm3 = Helm 3):
// lint, a server-side dry-run of what it renders, fresh renderings equal to the checked-in goldens
// (test/unit/chart/golden), install → upgrade → uninstall leaving nothing behind but the CRD, the
// NOTES' warning about the image, and a CRD upgrade from the 0.1.0 layout (crds/) that makes a new
// field stick.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { operatorArgs, parseManifests, type Manifest } from '../unit/chart/manifest-checks.ts';
import { bin, cluster, eventually, getJson, installCrd, kubectl, repoRoot, useNamespace } from './harness.ts';

const CHART = join(repoRoot, 'charts/modelship');
const ALL_VALUES = join(CHART, 'ci/all-values.yaml');
const GOLDEN_DIR = join(repoRoot, 'test/unit/chart/golden');
const CRD_NAME = 'modeldeployments.serving.modelship.dev';
const CRD_FILE = join(repoRoot, 'crds', `${CRD_NAME}.yaml`);
const HELMS = [
  { title: 'Helm 4', bin: 'helm', major: 'v4.' },
  { title: 'Helm 3', bin: 'helm3', major: 'v3.' },
] as const;
type Helm = (typeof HELMS)[number];

// Helm keeps its config, cache and repositories here, not in the user's home.
const helmHome = mkdtempSync(join(tmpdir(), 'modelship-helm-'));
const helmEnv = {
  ...process.env,
  HELM_CONFIG_HOME: join(helmHome, 'config'),
  HELM_CACHE_HOME: join(helmHome, 'cache'),
  HELM_DATA_HOME: join(helmHome, 'data'),
  KUBECONFIG: '',
};

function helmSync(h: Helm, args: string[]): string {
  try {
    return execFileSync(bin(h.bin), args, { encoding: 'utf8', env: helmEnv, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${h.bin} ${args.join(' ')} failed: ${e.stderr || e.message}\n${e.stdout ?? ''}`);
  }
}

/** helm against the test cluster, asynchronously (install and upgrade wait for the rollout). */
function helmAsync(h: Helm, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin(h.bin), [...args, '--kubeconfig', cluster().kubeconfig], { encoding: 'utf8', env: helmEnv, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${h.bin} ${args.join(' ')} failed: ${stderr || err.message}\n${stdout}`));
      else resolve(stdout);
    });
  });
}

/** The golden command: helm template modelship charts/modelship -n modelship-system --kube-version 1.30.0 [-f ci/all-values.yaml]. */
function template(h: Helm, valuesFile?: string, extra: string[] = []): string {
  return helmSync(h, ['template', 'modelship', CHART, '-n', 'modelship-system', '--kube-version', '1.30.0', ...(valuesFile ? ['-f', valuesFile] : []), ...extra]);
}

const RENDERINGS = [
  { name: 'default', values: undefined },
  { name: 'all-values', values: ALL_VALUES },
] as const;

after(() => rmSync(helmHome, { recursive: true, force: true }));

describe('the chart with the helm binaries', () => {
  for (const h of HELMS) {
    it(`${h.bin} is ${h.title}`, () => {
      assert.ok(helmSync(h, ['version', '--short']).trim().startsWith(h.major));
    });

    for (const r of RENDERINGS) {
      it(`passes ${h.title} lint --strict with ${r.name === 'default' ? 'the default values' : 'ci/all-values.yaml'}`, () => {
        const out = helmSync(h, ['lint', '--strict', CHART, ...(r.values ? ['-f', r.values] : [])]);
        assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      });
    }
  }

  it('NOTES warn that no image is published while the image is the default, and not once it is yours', () => {
    const notes = (extra: string[]): string => helmSync(HELMS[0], ['install', 'ms', CHART, '-n', 'ml-system', '--dry-run=client', ...extra]).split('NOTES:')[1] ?? '';
    const byDefault = notes([]);
    assert.match(byDefault, /^WARNING: no Modelship image is published anywhere, so ghcr\.io\/modelship\/modelship:\d+\.\d+\.\d+\ncannot be pulled/m);
    assert.match(byDefault, /docker build -t REGISTRY\/modelship:/);
    assert.match(byDefault, /--set image\.repository=REGISTRY\/modelship/);
    assert.doesNotMatch(notes(['--set', 'image.repository=registry.example.com/modelship']), /WARNING/);
    assert.doesNotMatch(notes(['--set', `image.digest=sha256:${'a'.repeat(64)}`]), /WARNING/);
    assert.match(notes(['--set', 'crds.install=false']), /did not install the ModelDeployment CRD \(crds\.install=false\)/);
  });

  it('renders no CRD with crds.install=false', () => {
    assert.ok(!parseManifests(template(HELMS[0], undefined, ['--set', 'crds.install=false'])).some((m) => m.kind === 'CustomResourceDefinition'));
  });

  for (const r of RENDERINGS) {
    it(`renders golden/${r.name}.yaml byte for byte with Helm 3, and the same objects with Helm 4`, () => {
      const golden = readFileSync(join(GOLDEN_DIR, `${r.name}.yaml`), 'utf8');
      const hint = `test/unit/chart/golden/${r.name}.yaml is stale: re-render it with helm3 template (see test/unit/chart/golden.test.ts)`;
      assert.equal(template(HELMS[1], r.values), golden, hint);
      // Helm 4 puts a blank line after each document; the objects must be the same.
      assert.deepEqual(parseManifests(template(HELMS[0], r.values)), parseManifests(golden), hint);
    });
  }
});

describe('the rendered chart on the API server (server-side dry-run)', () => {
  // Namespaces the renderings refer to: the release's, ci/all-values.yaml's watched namespaces and
  // its dashboard namespace.
  const namespaces = ['modelship-system', 'team-a', 'team-b', 'monitoring'];
  const created: string[] = [];
  before(() => {
    installCrd();
    for (const ns of namespaces) {
      if (kubectl(['get', 'namespace', ns, '--ignore-not-found', '-o', 'name']).trim() === '') {
        kubectl(['create', 'namespace', ns]);
        created.push(ns);
      }
    }
  });
  after(() => {
    for (const ns of created) kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  });

  // The monitoring.coreos.com kinds have no CRD on this cluster (no Prometheus Operator), so the
  // API server cannot check them: they are left out here; golden.test.ts checks their content.
  const UNCHECKABLE = new Set(['ServiceMonitor', 'PrometheusRule']);
  // --force-conflicts: the CRD the other tests installed has other managers of its labels; this
  // dry-run checks that the API server accepts the objects, not who owns which field.

  for (const h of HELMS) {
    for (const r of RENDERINGS) {
      it(`accepts every object ${h.title} renders with ${r.name === 'default' ? 'the default values' : 'ci/all-values.yaml'}, the CRD included`, () => {
        const manifests = parseManifests(template(h, r.values, ['--include-crds']));
        assert.ok(manifests.some((m) => m.kind === 'CustomResourceDefinition'), 'the CRD is rendered');
        const checkable = manifests.filter((m) => !UNCHECKABLE.has(m.kind));
        assert.equal(manifests.length - checkable.length, r.name === 'all-values' ? 2 : 0);
        const out = kubectl(['apply', '--server-side', '--dry-run=server', '--force-conflicts', '--field-manager=modelship-chart-test', '-f', '-'], {
          input: checkable.map((m) => stringify(m)).join('---\n'),
        });
        const applied = out.trim().split('\n').filter((l) => l.includes('(server dry run)'));
        assert.equal(applied.length, checkable.length, out);
      });
    }
  }
});

interface Workload {
  spec: { replicas: number };
  status?: { readyReplicas?: number };
}

/** Every object of the release still in the cluster, found by the chart's instance label. */
function releaseObjects(ns: string, release: string): string[] {
  const selector = `app.kubernetes.io/instance=${release}`;
  const namespaced = kubectl(['get', 'deployments,replicasets,pods,serviceaccounts,services,poddisruptionbudgets,roles,rolebindings,configmaps', '-n', ns, '-l', selector, '-o', 'name']);
  const clusterWide = kubectl(['get', 'clusterroles,clusterrolebindings', '-l', selector, '-o', 'name']);
  // Helm's own release records are Secrets labelled owner=helm,name=RELEASE.
  const records = kubectl(['get', 'secrets', '-n', ns, '-l', `owner=helm,name=${release}`, '-o', 'name']);
  return [namespaced, clusterWide, records].flatMap((out) => out.trim().split('\n')).filter((l) => l !== '');
}

function deleteCrd(): void {
  kubectl(['delete', 'crd', CRD_NAME, '--ignore-not-found', '--wait=true', '--timeout=120s']);
}

describe('helm install, upgrade and uninstall', () => {
  // The other test files install the CRD with the test field manager; put it back as they expect.
  after(() => installCrd());

  for (const h of HELMS) {
    it(`with ${h.title}: installs, upgrades with changed values, and uninstalls leaving only the CRD`, async (t) => {
      const ns = useNamespace(t, h.bin);
      const release = `ms-${h.bin}`;
      const name = `${release}-modelship`;
      // Without the CRD, so that the install shows the chart brings it.
      deleteCrd();

      await helmAsync(h, ['install', release, CHART, '-n', ns, '--wait', '--timeout', '3m']);
      const crd = getJson<{ metadata: { managedFields?: { manager: string }[] } }>(['get', 'crd', CRD_NAME, '--show-managed-fields']);
      assert.ok(crd.metadata.managedFields?.some((f) => f.manager === 'helm'), 'Helm created the CRD from crds/');
      const installed = getJson<Manifest & Workload>(['get', 'deployment', name, '-n', ns]);
      assert.equal(installed.spec.replicas, 2);
      assert.equal(installed.status?.readyReplicas, 2, 'helm --wait returned with both operator pods Ready (kwok runs no containers)');
      assert.deepEqual(pick(operatorArgs(installed)), ['--concurrency=4', `--leader-election-id=${name}`, `--leader-election-namespace=${ns}`, '--log-level=info']);

      await helmAsync(h, ['upgrade', release, CHART, '-n', ns, '--set', 'logLevel=debug', '--set', 'concurrency=7', '--set', 'replicaCount=3', '--wait', '--timeout', '3m']);
      const upgraded = getJson<Manifest & Workload>(['get', 'deployment', name, '-n', ns]);
      assert.equal(upgraded.spec.replicas, 3);
      assert.equal(upgraded.status?.readyReplicas, 3);
      assert.deepEqual(pick(operatorArgs(upgraded)), ['--concurrency=7', `--leader-election-id=${name}`, `--leader-election-namespace=${ns}`, '--log-level=debug']);
      const status = JSON.parse(await helmAsync(h, ['status', release, '-n', ns, '-o', 'json'])) as { version: number; info: { status: string } };
      assert.deepEqual([status.version, status.info.status], [2, 'deployed']);

      // Every kind the chart renders by default is there before the uninstall, so "none left" means something.
      const before = releaseObjects(ns, release);
      for (const kind of ['deployment.apps', 'serviceaccount', 'service', 'poddisruptionbudget.policy', 'role.rbac', 'rolebinding.rbac', 'clusterrole.rbac', 'clusterrolebinding.rbac', 'secret']) {
        assert.ok(before.some((o) => o.startsWith(`${kind}`)), `the release has a ${kind}: ${before.join(', ')}`);
      }

      await helmAsync(h, ['uninstall', release, '-n', ns, '--wait', '--timeout', '2m']);
      await eventuallyEmpty(ns, release);
      assert.equal(kubectl(['get', 'crd', CRD_NAME, '-o', 'name']).trim(), `customresourcedefinition.apiextensions.k8s.io/${CRD_NAME}`, 'the CRD stays (helm.sh/resource-policy: keep)');
    });
  }
});

/** The args that the values above change, sorted. */
function pick(args: string[]): string[] {
  return args.filter((a) => /^--(log-level|concurrency|leader-election-id|leader-election-namespace)=/.test(a)).sort();
}

async function eventuallyEmpty(ns: string, release: string): Promise<void> {
  // Pods and ReplicaSets go by garbage collection after the Deployment; give it a moment.
  await eventually('nothing of the release to be left', () => releaseObjects(ns, release).length === 0, 60_000, 500).catch(() => undefined);
  assert.deepEqual(releaseObjects(ns, release), [], 'nothing of the release is left');
}

interface CrdDoc {
  spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: { model: { properties: Record<string, unknown> } } } } } } }[] };
}

/**
 * The chart as 0.1.0 shipped it, with the CRD in crds/ (which Helm installs once and never
 * upgrades), from this chart; `withoutVersionField` stands for an older CRD that lacks a field
 * the new one has: spec.model.version.
 */
function chartWithCrdsFolder(dir: string, withoutVersionField: boolean): string {
  const chart = join(dir, withoutVersionField ? 'old' : 'old-layout-new-field');
  cpSync(CHART, chart, { recursive: true });
  rmSync(join(chart, 'templates/crd.yaml'));
  writeFileSync(join(chart, 'Chart.yaml'), readFileSync(join(chart, 'Chart.yaml'), 'utf8').replace(/^version: .*$/m, 'version: 0.1.0'));
  const crd = parse(readFileSync(CRD_FILE, 'utf8')) as CrdDoc;
  if (withoutVersionField) delete crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec.properties.model.properties['version'];
  mkdirSync(join(chart, 'crds'));
  writeFileSync(join(chart, 'crds', `${CRD_NAME}.yaml`), stringify(crd));
  return chart;
}

/** This chart as a next version would be: its CRD template has one more field, spec.model.owner. */
function chartWithOwnerField(dir: string): string {
  const chart = join(dir, 'next');
  cpSync(CHART, chart, { recursive: true });
  const path = join(chart, 'templates/crd.yaml');
  const version = '                    version:\n                      type: string\n';
  const text = readFileSync(path, 'utf8');
  assert.ok(text.includes(version), 'spec.model.version is where the test expects it');
  const owner = '                    owner:\n                      type: string\n                      description: Who owns the model.\n';
  writeFileSync(path, text.replace(version, owner + version));
  return chart;
}

function modelVersion(ns: string): string {
  return kubectl(['get', 'mdep', 'fraud', '-n', ns, '-o', 'jsonpath={.spec.model.version}']);
}

describe('upgrading the CRD with helm upgrade', () => {
  after(() => installCrd());

  for (const h of HELMS) {
    it(`with ${h.title}: a new CRD field sticks after upgrading from the 0.1.0 layout (crds/), and the CRD and the models stay after uninstall`, async (t) => {
      const ns = useNamespace(t, `crd-${h.bin}`);
      const release = `crd-${h.bin}`;
      const dir = mkdtempSync(join(tmpdir(), 'modelship-chart-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      deleteCrd();

      // 0.1.0, with an older CRD that has no spec.model.version.
      await helmAsync(h, ['install', release, chartWithCrdsFolder(dir, true), '-n', ns]);
      const mdep = (model: Record<string, string>) =>
        stringify({
          apiVersion: 'serving.modelship.dev/v1alpha1',
          kind: 'ModelDeployment',
          metadata: { name: 'fraud' },
          spec: { model: { uri: 's3://acme-models/fraud/v7', format: 'xgboost', ...model } },
        });
      // A client that does not ask for strict validation (most GitOps tools): the field is pruned, silently.
      kubectl(['apply', '-n', ns, '--validate=false', '-f', '-'], { input: mdep({ version: '7' }) });
      assert.equal(modelVersion(ns), '', 'the old CRD prunes the new field');

      // The failure this chart no longer has: the same layout with the new field in crds/ is not upgraded by Helm.
      await helmAsync(h, ['upgrade', release, chartWithCrdsFolder(dir, false), '-n', ns]);
      kubectl(['apply', '-n', ns, '--validate=false', '-f', '-'], { input: mdep({ version: '7' }) });
      assert.equal(modelVersion(ns), '', 'helm upgrade left the CRD in crds/ as it was');

      // This chart, as docs/operations.md says to upgrade from 0.1.0: Helm takes the CRD over.
      if (h.bin === 'helm') {
        await helmAsync(h, ['upgrade', release, CHART, '-n', ns, '--take-ownership']);
      } else {
        kubectl(['label', 'crd', CRD_NAME, 'app.kubernetes.io/managed-by=Helm', '--overwrite']);
        kubectl(['annotate', 'crd', CRD_NAME, `meta.helm.sh/release-name=${release}`, `meta.helm.sh/release-namespace=${ns}`, '--overwrite']);
        await helmAsync(h, ['upgrade', release, CHART, '-n', ns]);
      }
      // kubectl's strict validation accepts the field now, and it is kept.
      kubectl(['apply', '-n', ns, '-f', '-'], { input: mdep({ version: '7' }) });
      assert.equal(modelVersion(ns), '7', 'the new field sticks');
      const crd = getJson<{ metadata: { annotations?: Record<string, string> } }>(['get', 'crd', CRD_NAME]);
      assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
      assert.equal(crd.metadata.annotations?.['meta.helm.sh/release-name'], release);

      // The next version adds another field: a plain helm upgrade brings it, with no manual step.
      await helmAsync(h, ['upgrade', release, chartWithOwnerField(dir), '-n', ns]);
      kubectl(['apply', '-n', ns, '-f', '-'], { input: mdep({ version: '7', owner: 'risk-team' }) });
      assert.equal(kubectl(['get', 'mdep', 'fraud', '-n', ns, '-o', 'jsonpath={.spec.model.owner}']), 'risk-team');

      await helmAsync(h, ['uninstall', release, '-n', ns, '--wait', '--timeout', '2m']);
      assert.equal(kubectl(['get', 'crd', CRD_NAME, '-o', 'name']).trim(), `customresourcedefinition.apiextensions.k8s.io/${CRD_NAME}`, 'helm uninstall keeps the CRD');
      assert.equal(modelVersion(ns), '7', 'and so the ModelDeployment, and the model it serves');
    });
  }
});
