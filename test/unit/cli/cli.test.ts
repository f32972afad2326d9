// `modelship validate` and `modelship render` on the examples and the invalid corpus, in-process,
// compared with what the operator's own reconcile does with the same objects: the same status
// message for an invalid spec, the same objects applied for a valid one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { ModelDeployment, ModelDeploymentStatus } from '../../../operator/src/api/types.ts';
import { runCli, type CliIo } from '../../../operator/src/cli/commands.ts';
import { fieldPath } from '../../../operator/src/cli/documents.ts';
import type { ValidationReport } from '../../../operator/src/cli/validate.ts';
import { APPLIED_HASH_ANNOTATION } from '../../../operator/src/controller/children.ts';
import { reconcile, type ReconcileDeps } from '../../../operator/src/controller/reconcile.ts';
import { renderConfigFrom, type RenderConfig } from '../../../operator/src/render/config.ts';
import { defaultRenderConfig } from '../../../operator/src/render/index.ts';
import { parseConfig } from '../../../operator/src/config.ts';
import { loadExamples, loadInvalidCorpus, repoRoot } from '../api/fixtures.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(argv: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    readStdin: () => opts.stdin ?? '',
    env: opts.env ?? {},
    now: () => new Date('2026-11-27T12:00:00Z'),
    connect: () => assert.fail('validate and render need no cluster'),
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

/** What the operator's reconcile applies and writes on the status for one ModelDeployment, with no children yet. */
async function operatorPass(md: ModelDeployment, config: RenderConfig): Promise<{ applied: KubernetesObject[]; status: ModelDeploymentStatus | undefined }> {
  const applied: KubernetesObject[] = [];
  let status: ModelDeploymentStatus | undefined;
  const deps: ReconcileDeps = {
    getModelDeployment: () => md,
    getChild: () => undefined,
    ownedChildren: () => [],
    readReplicaSet: async () => undefined,
    readRoute: async () => undefined,
    patchRoute: async () => assert.fail('no route'),
    replicaSetsOf: () => [],
    podsOf: () => [],
    nameTaken: () => false,
    readChild: async () => undefined,
    apply: async (obj) => {
      applied.push(structuredClone(obj));
      return obj;
    },
    replaceSpec: async (obj) => obj,
    deleteChild: async () => {},
    patchStatus: async (_md, s) => void (status = s),
    event: () => {},
    refusals: new Map(),
    validated: new Map(),
    log: { info() {}, warn() {}, debug() {} },
    config,
    now: () => new Date('2026-11-27T12:00:00Z'),
  };
  await reconcile(deps, `${md.metadata.namespace}/${md.metadata.name}`);
  return { applied, status };
}

const examples = loadExamples();
const UID = '11111111-2222-3333-4444-555555555555';

const corpus = loadInvalidCorpus();

describe('modelship validate', () => {
  for (const ex of examples) {
    it(`passes examples/${ex.file} with exit 0`, async () => {
      const r = await cli(['validate', join('examples', ex.file)]);
      assert.equal(r.code, 0, r.stdout);
      assert.equal(r.stdout, 'Checked 1 ModelDeployment in 1 file: all valid.\n');
    });
  }

  it('checks every file of a directory', async () => {
    const r = await cli(['validate', join(repoRoot, 'examples')]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `Checked ${examples.length} ModelDeployments in ${examples.length} files: all valid.\n`);
  });

  for (const { file, c } of corpus) {
    it(`refuses invalid/${file} with exit 1, the corpus's errors, and the operator's status message`, async () => {
      const stdin = stringify({ ...c.object, metadata: { ...c.object.metadata, namespace: 'ml' } });
      const json = await cli(['validate', '-o', 'json', '-'], { stdin });
      assert.equal(json.code, 1);
      const report = JSON.parse(json.stdout) as ValidationReport;
      assert.deepEqual(report.errors.map((e) => ({ field: e.field, message: e.message })), c.errors);
      // The operator, given the same object (as if the API server had let it through):
      const md = { ...c.object, metadata: { ...c.object.metadata, namespace: 'ml', uid: UID, generation: 1 } } as unknown as ModelDeployment;
      const { applied, status } = await operatorPass(md, defaultRenderConfig);
      assert.deepEqual(applied, [], 'the operator applies nothing for an invalid spec');
      const ready = status?.conditions?.find((x) => x.type === 'Ready');
      assert.equal(ready?.reason, 'InvalidSpec');
      assert.equal(report.objects[0]?.statusMessage, ready?.message, 'the same words as the status');

      const text = await cli(['validate', '-'], { stdin });
      assert.equal(text.code, 1);
      const lines = text.stdout.trimEnd().split('\n');
      assert.deepEqual(
        lines.slice(0, -1).map((l) => l.replace(/^<stdin>:\d+: ModelDeployment ml\/[^:]+: /, '')),
        c.errors.map((e) => `${e.field}: ${e.message}`),
        'one line per error, naming the file, the object and the field',
      );
      // The status message is the error lines joined.
      assert.equal(ready?.message, `The spec is invalid: ${c.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}.`);
    });
  }

  it('names the line of each field, skips other kinds, and reads a kubectl List', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelship-cli-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'app.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata: {name: not-a-model}',
        '---',
        'apiVersion: serving.modelship.dev/v1alpha1',
        'kind: ModelDeployment',
        'metadata:',
        '  name: iris',
        '  namespace: team-a',
        'spec:',
        '  model: {uri: "s3://acme-models/iris/v1", format: sklearn}',
        '  resources: {requests: {cpu: "1"}}',
        '  autoscaling:',
        '    minReplicas: 5',
        '    maxReplicas: 2',
        '---',
        'apiVersion: v1',
        'kind: List',
        'items:',
        '  - apiVersion: serving.modelship.dev/v1alpha1',
        '    kind: ModelDeployment',
        '    metadata: {name: fine}',
        '    spec:',
        '      model: {uri: "s3://acme-models/fine/v1", format: xgboost}',
        '      runtime:',
        '        env:',
        '          - {name: A, value: "1"}',
        '          - {name: A, value: "2"}',
        '',
      ].join('\n'),
    );
    const r = await cli(['validate', file]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stdout,
      `${file}:14: ModelDeployment team-a/iris: spec.autoscaling.minReplicas: minReplicas must be less than or equal to maxReplicas\n` +
        `${file}:28: ModelDeployment fine: spec.runtime.env[1].name: A is listed twice; each variable may appear once\n` +
        `Checked 2 ModelDeployments in 1 file: 2 invalid, 2 errors.\n`,
    );
  });

  it('writes GitHub Actions annotations with -o github', async () => {
    const stdin = 'apiVersion: serving.modelship.dev/v1alpha1\nkind: ModelDeployment\nmetadata: {name: x}\nspec:\n  model: {uri: "s3://acme-models/x/v1", format: sklearn}\n  replicas: -1\n';
    const r = await cli(['validate', '--output=github', '-'], { stdin });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '::error file=<stdin>,line=6,title=ModelDeployment x::spec.replicas: must be at least 0\nChecked 1 ModelDeployment in 1 file: 1 invalid, 1 error.\n');
  });

  it('reports a YAML syntax error and a missing file with exit 1', async () => {
    const bad = await cli(['validate', '-'], { stdin: 'kind: ModelDeployment\nspec: [unclosed\n' });
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^<stdin>:\d+: Not valid YAML: /);
    const missing = await cli(['validate', 'no/such/file.yaml']);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /^no\/such\/file\.yaml:0: No such file or directory\n/);
  });

  it('passes a file without ModelDeployments, saying so', async () => {
    const r = await cli(['validate', '-'], { stdin: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n' });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'No ModelDeployment found in 1 file.\n');
  });

  it('refuses wrong usage with exit 2 and the usage', async () => {
    for (const argv of [['validate'], ['validate', '-o', 'xml', 'x.yaml'], ['validate', '--bogus', 'x.yaml'], ['frobnicate'], []]) {
      const r = await cli(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, /Usage: modelship COMMAND/);
    }
  });

  it('turns error fields into paths into the YAML', () => {
    assert.deepEqual(fieldPath('spec.resources.limits[nvidia.com/gpu]'), ['spec', 'resources', 'limits', 'nvidia.com/gpu']);
    assert.deepEqual(fieldPath('spec.runtime.env[0].name'), ['spec', 'runtime', 'env', 0, 'name']);
  });
});

/** The objects of a multi-document YAML text. */
function docs(text: string): KubernetesObject[] {
  return parseAllDocuments(text).map((d) => d.toJS() as KubernetesObject);
}

describe('modelship render', () => {
  for (const ex of examples) {
    it(`renders examples/${ex.file} as the operator applies it, and as test/golden has it`, async () => {
      const object = ex.object as ModelDeployment;
      const md = { ...object, metadata: { ...object.metadata, namespace: 'default', uid: UID, generation: 1 } };
      const r = await cli(['render', '-'], { stdin: stringify(md) });
      assert.equal(r.code, 0, r.stderr);
      const rendered = docs(r.stdout);
      assert.deepEqual(rendered, (await operatorPass(md, defaultRenderConfig)).applied, 'what the reconcile applies, in its order');
      // The golden files hold the rendering without the hash the reconcile adds.
      const golden = docs(readFileSync(join(repoRoot, 'test/golden', `${ex.name}.yaml`), 'utf8'));
      const withoutHash = rendered.map((o) => {
        const { annotations: all, ...metadata } = o.metadata ?? {};
        const { [APPLIED_HASH_ANNOTATION]: hash, ...annotations } = all ?? {};
        assert.match(hash ?? '', /^[0-9a-f]{16}$/);
        return { ...o, metadata: { ...metadata, ...(Object.keys(annotations).length ? { annotations } : {}) } };
      });
      assert.deepEqual(withoutHash, golden);
    });
  }

  it('honours the operator flags and their environment variables, as the operator parses them', async () => {
    const md = { ...(examples.find((e) => e.name === 'quickstart')!.object as ModelDeployment) };
    md.metadata = { ...md.metadata, namespace: 'ml', uid: UID };
    const flags = ['--runtime-image', 'mlserver=registry.local/mlserver:9', '--model-fetcher-image=registry.local/fetch:2'];
    const r = await cli(['render', ...flags, '-'], { stdin: stringify(md) });
    assert.equal(r.code, 0, r.stderr);
    const config = renderConfigFrom(parseConfig(['--runtime-image=mlserver=registry.local/mlserver:9', '--model-fetcher-image=registry.local/fetch:2'], {}));
    assert.deepEqual(docs(r.stdout), (await operatorPass(md, config)).applied);
    assert.match(r.stdout, /image: registry\.local\/mlserver:9/);
    assert.match(r.stdout, /image: registry\.local\/fetch:2/);

    const fromEnv = await cli(['render', '-'], { stdin: stringify(md), env: { MODELSHIP_RUNTIME_IMAGES: 'mlserver=registry.local/mlserver:10' } });
    assert.match(fromEnv.stdout, /image: registry\.local\/mlserver:10/);

    const refused = await cli(['render', '--runtime-image', 'nonsense', '-'], { stdin: stringify(md) });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^modelship: Invalid value "nonsense" for --runtime-image: must be NAME=IMAGE/);
  });

  it('without a uid, leaves out ownerReferences and the applied hash, and takes the namespace from -n', async () => {
    const file = join(repoRoot, 'examples/xgboost-autoscaling.yaml');
    const r = await cli(['render', '-n', 'risk', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^# Rendered by modelship render\. Without the uid of fraud-detector, ownerReferences/);
    const objects = docs(r.stdout);
    assert.deepEqual(objects.map((o) => o.kind), ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget']);
    for (const o of objects) {
      assert.equal(o.metadata?.namespace, 'risk');
      assert.equal(o.metadata?.ownerReferences, undefined);
      assert.equal(o.metadata?.annotations?.[APPLIED_HASH_ANNOTATION], undefined);
    }
    const clash = await cli(['render', '-n', 'other', '-'], { stdin: stringify({ ...(parse(readFileSync(file, 'utf8')) as object), metadata: { name: 'x', namespace: 'risk' } }) });
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /ModelDeployment risk\/x: metadata\.namespace: is risk, but --namespace says other/);
  });

  it('renders nothing for an invalid ModelDeployment and prints the errors validate prints', async () => {
    const stdin = stringify(corpus.find((x) => x.file === 'min-above-max.yaml')?.c.object);
    const r = await cli(['render', '-'], { stdin });
    const v = await cli(['validate', '-'], { stdin });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `${v.stdout.split('\n')[0]}\nNothing was rendered: fix the errors above.\n`);
  });
});

describe('the modelship command', () => {
  const bin = join(repoRoot, 'operator/src/cli/modelship.mjs');
  it('runs through its bin, as `modelship` and as the kubectl plugin, with the exit codes', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string>; version: string };
    assert.deepEqual(pkg.bin, { modelship: 'operator/src/cli/modelship.mjs', 'kubectl-modelship': 'operator/src/cli/modelship.mjs' });
    const ok = spawnSync(process.execPath, [bin, 'validate', join(repoRoot, 'examples')], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    const bad = spawnSync(process.execPath, [bin, 'validate', '-'], { encoding: 'utf8', input: 'apiVersion: serving.modelship.dev/v1alpha1\nkind: ModelDeployment\nmetadata: {name: x}\nspec: {}\n' });
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /<stdin>:4: ModelDeployment x: spec\.model: is required/);
    const version = spawnSync(process.execPath, [bin, 'version'], { encoding: 'utf8' });
    assert.equal(version.stdout, `modelship ${pkg.version}\n`);
  });
});
