// The modelship command against the real operator on the real control plane: validate says, word
// for word, what the operator then writes on the status; render piped into kubectl diff shows no
// difference for what the operator applied and exactly the change a new spec or flag makes; explain,
// run as the kubectl plugin, gives each model's diagnosis, also when no operator is watching.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import type { ValidationReport } from '../../operator/src/cli/validate.ts';
import type { ExplainRow } from '../../operator/src/cli/explain.ts';
import { bin, cluster, eventually, getJson, installCrd, kubectl, repoRoot } from './harness.ts';
import { startOperator, type OperatorProcess } from './operator.ts';
import { cond, getMd, waitReady } from './controller-suite.ts';
import { loadInvalidCorpus, type InvalidCase } from '../unit/api/fixtures.ts';

const CLI = join(repoRoot, 'operator/src/cli/modelship.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'modelship-cli-it-'));
// kubectl finds plugins on PATH by file name: the bin's name, as npm links it.
symlinkSync(CLI, join(scratch, 'kubectl-modelship'));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: string): Run {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    input,
    env: { ...process.env, KUBECONFIG: cluster().kubeconfig, PATH: `${scratch}:${process.env.PATH ?? ''}` },
    maxBuffer: 16 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const modelship = (args: string[], input?: string): Run => run(process.execPath, [CLI, ...args], input);
const kubectlDiff = (input: string): Run => run(bin('kubectl'), ['diff', '-f', '-'], input);

/** The invalid corpus's cases that the API server lets through, so only the operator can refuse them. */
function operatorOnlyCases(): { name: string; object: InvalidCase['object'] }[] {
  return loadInvalidCorpus()
    .filter(({ c }) => !c.apiServer.refuses)
    .map(({ file, c }) => {
      const name = file.replace(/\.yaml$/, '');
      return { name, object: { ...c.object, metadata: { ...c.object.metadata, name } } };
    });
}

describe('the modelship command with the operator', () => {
  let op: OperatorProcess;
  let ns = '';
  const cases = operatorOnlyCases();
  const invalidFile = join(scratch, 'invalid.yaml');

  before(async () => {
    installCrd();
    // One namespace for the whole file: the tests build on each other.
    ns = `cli-${randomBytes(3).toString('hex')}`;
    kubectl(['create', 'namespace', ns]);
    op = await startOperator({ name: 'cli-operator', args: ['--leader-elect=false'] });
  });
  after(async () => {
    await op.stop();
    kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('validate prints, for every error only the operator catches, the words the operator writes on the status', async () => {
    assert.ok(cases.length >= 5, `the corpus has cases only the operator refuses (${cases.length})`);
    writeFileSync(invalidFile, cases.map((c) => stringify(c.object)).join('---\n'));
    const json = modelship(['validate', '-o', 'json', invalidFile]);
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout) as ValidationReport;
    assert.equal(report.objects.length, cases.length);
    const text = modelship(['validate', invalidFile]);
    assert.equal(text.code, 1);

    kubectl(['apply', '-n', ns, '-f', invalidFile]);
    for (const o of report.objects) {
      const status = await eventually(`${o.name} to be InvalidSpec`, () => {
        const ready = cond(getMd(ns, o.name), 'Ready');
        return ready?.reason === 'InvalidSpec' ? ready : undefined;
      });
      assert.equal(o.statusMessage, status.message, `${o.name}: the same words as the status`);
      // The text lines of this object are the status message, one error a line.
      const lines = text.stdout.split('\n').filter((l) => l.includes(` ModelDeployment ${o.name}: `)).map((l) => l.replace(/^[^:]+:\d+: ModelDeployment [^:]+: /, ''));
      assert.equal(`The spec is invalid: ${lines.join('; ')}.`, status.message);
    }
  });

  it('render | kubectl diff shows no difference for what the operator applied, and the change a new spec or flag makes', async () => {
    const examples = ['examples/quickstart.yaml', 'examples/xgboost-autoscaling.yaml'].map((f) => join(repoRoot, f));
    kubectl(['apply', '-n', ns, ...examples.flatMap((f) => ['-f', f])]);
    await waitReady(ns, 'quickstart');
    await waitReady(ns, 'fraud-detector');

    const fromGit = modelship(['render', '-n', ns, ...examples]);
    assert.equal(fromGit.code, 0, fromGit.stderr);
    const same = kubectlDiff(fromGit.stdout);
    assert.equal(same.code, 0, `no difference, from the files as in git:\n${same.stdout}${same.stderr}`);

    // With the uids from the cluster: ownerReferences and the applied-hash annotation too, equal to the operator's.
    const live = kubectl(['get', 'mdep', 'quickstart', 'fraud-detector', '-n', ns, '-o', 'yaml']);
    const fromCluster = modelship(['render', '-'], live);
    assert.equal(fromCluster.code, 0, fromCluster.stderr);
    assert.match(fromCluster.stdout, /serving\.modelship\.dev\/applied-hash: [0-9a-f]{16}/);
    const sameAgain = kubectlDiff(fromCluster.stdout);
    assert.equal(sameAgain.code, 0, `no difference, hash and ownerReferences included:\n${sameAgain.stdout}${sameAgain.stderr}`);
    for (const kind of ['deployment', 'service', 'hpa', 'pdb']) {
      const child = getJson<{ metadata: { annotations?: Record<string, string> } }>(['get', kind, 'fraud-detector', '-n', ns]);
      assert.ok(fromCluster.stdout.includes(`serving.modelship.dev/applied-hash: ${child.metadata.annotations?.['serving.modelship.dev/applied-hash']}`), `${kind}: the hash the operator wrote`);
    }

    // A new model version: the diff is the pod template's, which is what will roll.
    const v2 = readFileSync(examples[0] ?? '', 'utf8').replaceAll('iris/v1', 'iris/v2');
    const changed = kubectlDiff(modelship(['render', '-n', ns, '-'], v2).stdout);
    assert.equal(changed.code, 1, changed.stderr);
    assert.match(changed.stdout, /^\+\s+serving\.modelship\.dev\/model-uri: https:\/\/models\.example\.com\/iris\/v2\/model\.joblib$/m);
    // The operator's flag: a new runtime image changes exactly the image (and so the revision the
    // pod template hashes to).
    const flagged = kubectlDiff(modelship(['render', '-n', ns, '--runtime-image', 'mlserver=registry.example.com/mlserver:1.7.0', examples[0] ?? '']).stdout);
    assert.equal(flagged.code, 1, flagged.stderr);
    const lines = flagged.stdout.split('\n').filter((l) => /^[-+]\s/.test(l)).map((l) => l.replace(/\s+/g, ' '));
    assert.deepEqual(
      lines.filter((l) => !l.includes('serving.modelship.dev/revision')),
      ['- generation: 1', '+ generation: 2', '- image: docker.io/seldonio/mlserver:1.6.1', '+ image: registry.example.com/mlserver:1.7.0'],
    );
    assert.equal(lines.filter((l) => /^[-+] serving\.modelship\.dev\/revision: [0-9a-f]{10}$/.test(l)).length, 2, 'and the revision');
  });

  it('explain, as the kubectl plugin, gives each model its diagnosis and what to do', () => {
    const plugins = run(bin('kubectl'), ['plugin', 'list']);
    assert.match(plugins.stdout, /kubectl-modelship/);
    const r = run(bin('kubectl'), ['modelship', 'explain', '-n', ns]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^NAME\s+READY\s+REASON\s+REPLICAS\s+AGE\s+MESSAGE$/);
    assert.match(r.stdout, /^quickstart\s+True\s+Ready\s+1\/1\s+\S+\s+Serving https:\/\/models\.example\.com\/iris\/v1\/model\.joblib/m);
    for (const c of cases) {
      const message = cond(getMd(ns, c.name), 'Ready')?.message ?? '';
      const line = lines.find((l) => l.startsWith(`${c.name} `)) ?? '';
      assert.match(line, /\s+False\s+InvalidSpec \(stalled\)\s+0\/0\s+/, c.name);
      assert.ok(line.endsWith(`${message} What to do: Fix the fields named.`), line);
    }
    const json = JSON.parse(run(bin('kubectl'), ['modelship', 'explain', '-n', ns, '-o', 'json']).stdout) as ExplainRow[];
    assert.deepEqual(json.map((row) => row.name), [...cases.map((c) => c.name), 'fraud-detector', 'quickstart'].sort());
  });

  it('explain says when no operator has reported on a model, or not on its latest spec', async () => {
    await op.stop();
    kubectl(['apply', '-n', ns, '-f', '-'], { input: stringify({ apiVersion: 'serving.modelship.dev/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'unseen' }, spec: { model: { uri: 's3://acme-models/unseen/v1', format: 'sklearn' } } }) });
    kubectl(['patch', 'mdep', 'quickstart', '-n', ns, '--type=merge', '-p', '{"spec":{"model":{"version":"2"}}}']);
    const rows = JSON.parse(modelship(['explain', '-n', ns, '-o', 'json']).stdout) as ExplainRow[];
    const byName = new Map(rows.map((row) => [row.name, row]));
    assert.equal(byName.get('unseen')?.reason, 'NotObserved');
    assert.equal(byName.get('quickstart')?.reason, 'StatusBehind');
    assert.match(byName.get('quickstart')?.message ?? '', /^The status describes generation 1, the spec is at generation 2: /);
    const all = modelship(['explain', '-A']);
    assert.match(all.stdout, new RegExp(`^${ns}\\s+unseen\\s+Unknown\\s+NotObserved\\s`, 'm'));
  });

  it('explain fails with exit 1 and the reason when the API server cannot be reached', () => {
    const kc = join(scratch, 'nowhere.kubeconfig');
    writeFileSync(kc, stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }));
    const r = modelship(['explain', '--kubeconfig', kc]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Listing the ModelDeployments at https:\/\/127\.0\.0\.1:1 failed: /);
  });
});
