// The CI examples of docs/cli.md, run: the GitHub Actions workflow's shell steps in a scratch
// GitOps repository with a base and a head commit (as the runner would, with bash -eo pipefail and
// its variables), and the pre-commit hook called as pre-commit calls it (entry + matching files).
// `.modelship` is this repository; the step that installs it (npm ci) is the one not run.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { repoRoot } from '../api/fixtures.ts';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
}
interface Workflow {
  jobs: { modelship: { env: Record<string, string>; steps: Step[] } };
}
interface PreCommit {
  repos: { repo: string; hooks: { id: string; entry: string; language: string; files: string }[] }[];
}

const workflow = parse(readFileSync(join(repoRoot, 'docs/ci/github-actions.yaml'), 'utf8')) as Workflow;
const preCommit = parse(readFileSync(join(repoRoot, 'docs/ci/pre-commit-config.yaml'), 'utf8')) as PreCommit;
const quickstart = readFileSync(join(repoRoot, 'examples/quickstart.yaml'), 'utf8');
const invalid = quickstart.replace('format: sklearn', 'format: sklearn\n    fromat: typo');

const scratch: string[] = [];
after(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A GitOps repository: deploy/ with the quickstart on the base commit, `head` on the next one. */
function gitopsRepo(head: string): { dir: string; base: string } {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-gitops-'));
  scratch.push(dir);
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: dir, encoding: 'utf8' }).trim();
  git('init', '--quiet');
  mkdirSync(join(dir, 'deploy'));
  writeFileSync(join(dir, 'deploy/iris.yaml'), quickstart);
  writeFileSync(join(dir, 'deploy/configmap.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n');
  git('add', '.');
  git('commit', '--quiet', '-m', 'base');
  const base = git('rev-parse', 'HEAD');
  writeFileSync(join(dir, 'deploy/iris.yaml'), head);
  git('commit', '--quiet', '--allow-empty', '-am', 'head');
  symlinkSync(repoRoot, join(dir, '.modelship'));
  return { dir, base };
}

/** Runs one `run:` step as the runner does, with the job's and the step's env and the runner's variables. */
function runStep(step: Step, dir: string, vars: Record<string, string>) {
  const resolve = (v: string) => v.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => vars[expr] ?? assert.fail(`no value for \${{ ${expr} }}`));
  const env = { ...process.env, ...workflow.jobs.modelship.env, ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, resolve(v)])), RUNNER_TEMP: vars['RUNNER_TEMP'] ?? '', GITHUB_STEP_SUMMARY: vars['GITHUB_STEP_SUMMARY'] ?? '' };
  return spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run ?? ''], { cwd: dir, env, encoding: 'utf8' });
}

function step(name: string): Step {
  return workflow.jobs.modelship.steps.find((s) => s.name === name) ?? assert.fail(`the workflow has no step "${name}"`);
}

describe('the GitHub Actions example', () => {
  it('checks out Modelship, installs it without dev dependencies, on Node 24', () => {
    const steps = workflow.jobs.modelship.steps;
    assert.ok(steps.some((s) => s.uses?.startsWith('actions/setup-node@')));
    assert.equal(step('Install the modelship command').run, 'npm ci --prefix .modelship --omit=dev --ignore-scripts --no-audit --no-fund');
  });

  it('passes a valid change and writes in the summary what its Deployment becomes', () => {
    const { dir, base } = gitopsRepo(quickstart.replaceAll('iris/v1', 'iris/v2'));
    const summary = join(dir, '..', `${dir.split('/').pop()}-summary.md`);
    scratch.push(summary);
    const runner = mkdtempSync(join(tmpdir(), 'modelship-runner-'));
    scratch.push(runner);
    const vars = { 'env.MODELSHIP_REPOSITORY': 'x', 'env.MODELSHIP_VERSION': 'x', 'github.event.pull_request.base.sha': base, RUNNER_TEMP: runner, GITHUB_STEP_SUMMARY: summary };
    const validate = runStep(step('Validate the ModelDeployments'), dir, vars);
    assert.equal(validate.status, 0, validate.stdout + validate.stderr);
    assert.equal(validate.stdout, 'Checked 1 ModelDeployment in 2 files: all valid.\n');
    const show = runStep(step('Show what they become'), dir, vars);
    assert.equal(show.status, 0, show.stderr);
    const text = readFileSync(summary, 'utf8');
    assert.match(text, /^### What the ModelDeployments in deploy become\n```diff\n@@ /);
    assert.match(text, /^-\s+serving\.modelship\.dev\/model-uri: https:\/\/models\.example\.com\/iris\/v1\/model\.joblib$/m);
    assert.match(text, /^\+\s+serving\.modelship\.dev\/model-uri: https:\/\/models\.example\.com\/iris\/v2\/model\.joblib$/m);
  });

  it('fails an invalid change with an annotation on the line of the error', () => {
    const { dir, base } = gitopsRepo(invalid);
    const validate = runStep(step('Validate the ModelDeployments'), dir, { 'github.event.pull_request.base.sha': base });
    assert.equal(validate.status, 1);
    const line = invalid.split('\n').findIndex((l) => l.includes('fromat')) + 1;
    assert.match(validate.stdout, new RegExp(`^::error file=deploy/iris\\.yaml,line=${line},title=ModelDeployment quickstart::spec\\.model\\.fromat: is not a known field; did you mean format\\?$`, 'm'));
  });
});

describe('the pre-commit example', () => {
  const hook = preCommit.repos[0]?.hooks[0] ?? assert.fail('no hook');

  /** pre-commit's call: the entry, split on spaces, then the staged files its `files` pattern matches. */
  function commit(dir: string, staged: string[]) {
    const files = staged.filter((f) => new RegExp(hook.files).test(f));
    const [cmd, ...args] = hook.entry.split(' ');
    return spawnSync(cmd ?? '', [...args, ...files], { cwd: dir, encoding: 'utf8' });
  }

  it('is a local system hook that runs modelship validate on YAML files', () => {
    assert.deepEqual([preCommit.repos[0]?.repo, hook.id, hook.language], ['local', 'modelship-validate', 'system']);
    assert.ok(new RegExp(hook.files).test('deploy/a.yml') && !new RegExp(hook.files).test('README.md'));
  });

  it('lets a valid commit through and stops an invalid one, naming the file, the line and the field', () => {
    const { dir } = gitopsRepo(quickstart);
    const ok = commit(dir, ['deploy/iris.yaml', 'deploy/configmap.yaml', 'README.md']);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    writeFileSync(join(dir, 'deploy/iris.yaml'), invalid);
    const bad = commit(dir, ['deploy/iris.yaml']);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /^deploy\/iris\.yaml:\d+: ModelDeployment quickstart: spec\.model\.fromat: is not a known field; did you mean format\?$/m);
  });
});
