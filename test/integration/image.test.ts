// The container image without a Docker engine: the Dockerfile and .dockerignore agree with the
// build, the TypeScript build produces the entrypoint, and the production dependencies alone (as
// the image's prod-deps stage installs them) start the operator.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from './harness.ts';

interface Stage {
  from: string;
  name: string | undefined;
  lines: string[];
}

/** The Dockerfile's instructions: continuation lines joined, comments dropped. */
function instructions(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** The ARGs declared before the first FROM, with their defaults: what FROM lines may use. */
function globalArgs(text: string): Map<string, string> {
  const args = new Map<string, string>();
  for (const line of instructions(text)) {
    if (/^FROM\s/i.test(line)) break;
    const m = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?$/.exec(line);
    if (m) args.set(m[1] ?? '', m[2] ?? '');
  }
  return args;
}

/** The Dockerfile's stages, with their instructions, FROM's ${ARG}s resolved to their defaults. */
function stages(text: string): Stage[] {
  const args = globalArgs(text);
  const out: Stage[] = [];
  for (const line of instructions(text)) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) out.push({ from: (from[1] ?? '').replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? ''), name: from[2], lines: [] });
    else if (out.length > 0) out[out.length - 1]?.lines.push(line);
  }
  return out;
}

/** The LABEL keys and values of a stage. */
function labels(stage: Stage): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stage.lines.filter((l) => l.startsWith('LABEL '))) {
    for (const m of line.slice('LABEL '.length).matchAll(/([\w.-]+)="([^"]*)"/g)) out.set(m[1] ?? '', m[2] ?? '');
  }
  return out;
}

/** Whether the build context leaves `path` out, by .dockerignore's rules (the last matching pattern wins). */
function dockerignored(path: string, patterns: readonly string[]): boolean {
  let excluded = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const re = new RegExp(
      `^${pattern
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) => ({ '**/': '(?:.*/)?', '**': '.*', '*': '[^/]*', '?': '[^/]' })[part] ?? part.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
        .join('')}$`,
    );
    // A pattern that matches a directory covers everything in it.
    const parts = path.split('/');
    if (parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/')))) excluded = !negated;
  }
  return excluded;
}

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

const all = stages(dockerfile);
const final = all[all.length - 1] as Stage;
const entrypoint = JSON.parse(final.lines.find((l) => l.startsWith('ENTRYPOINT'))?.slice('ENTRYPOINT'.length).trim() ?? '[]') as string[];
/** The file the image starts, relative to its WORKDIR (dist/main.js). */
const entryFile = entrypoint.find((a) => a.endsWith('.js')) ?? '';

describe('the Dockerfile', () => {
  it('builds on Node 24 and runs on a Node 24 base as a non-root user', () => {
    assert.ok(all.length >= 2, 'multi-stage');
    for (const s of all) assert.match(s.from, /^((docker\.io\/library\/)?node:24[.-]|gcr\.io\/distroless\/nodejs24-)/, `stage ${s.name ?? s.from} is not on Node 24`);
    const user = final.lines.find((l) => l.startsWith('USER'))?.split(/\s+/)[1] ?? '';
    assert.match(user, /^[1-9]\d*(:[1-9]\d*)?$/, 'the runtime stage runs as a numeric non-root user');
  });

  it('builds on the exact Node.js the tests run on, and takes base image digests as build arguments', () => {
    const args = globalArgs(dockerfile);
    assert.equal(args.get('NODE_IMAGE'), `docker.io/library/node:${pkg.devDependencies['node']}-bookworm`, 'the node devDependency and the build image agree');
    assert.equal(args.get('RUNTIME_IMAGE'), 'gcr.io/distroless/nodejs24-debian12:nonroot');
    for (const s of all) assert.match(s.from, /^[^@\s]+(@sha256:[0-9a-f]{64})?$/, `${s.from}: a digest, when written, is a whole sha256`);
    // Every stage starts FROM one of the two arguments, so --build-arg pins them all.
    assert.deepEqual(
      instructions(dockerfile).filter((l) => /^FROM\s/i.test(l)).map((l) => l.split(/\s+/)[1]),
      ['${NODE_IMAGE}', '${NODE_IMAGE}', '${RUNTIME_IMAGE}'],
    );
  });

  it('labels the image with the OCI annotation keys, from package.json, and with no timestamp', () => {
    const l = labels(final);
    assert.equal(l.get('org.opencontainers.image.title'), 'modelship');
    assert.equal(l.get('org.opencontainers.image.version'), pkg.version);
    assert.equal(l.get('org.opencontainers.image.licenses'), pkg.license);
    assert.equal(l.get('org.opencontainers.image.revision'), '${REVISION}');
    assert.equal(l.get('org.opencontainers.image.source'), '${SOURCE}');
    assert.equal(l.get('org.opencontainers.image.base.name'), '${RUNTIME_IMAGE}');
    assert.ok(final.lines.includes('ARG RUNTIME_IMAGE'), 'the runtime stage re-declares RUNTIME_IMAGE, or the label would be empty');
    assert.ok((l.get('org.opencontainers.image.description') ?? '').length > 20);
    assert.equal(l.has('org.opencontainers.image.created'), false, 'a build time would make every build differ');
  });

  it('starts node dist/main.js, which the build stage checks it produced', () => {
    assert.equal(entryFile, 'dist/main.js');
    assert.match(entrypoint[0] ?? '', /node$/);
    const build = all.find((s) => s.lines.some((l) => /npm run build/.test(l)));
    assert.ok(build, 'a stage runs npm run build');
    assert.ok(build.lines.some((l) => l.includes(`test -f ${entryFile}`)));
    assert.ok(final.lines.some((l) => new RegExp(`^COPY --from=${build.name} /app/dist`).test(l)), 'the runtime stage takes dist/ from the build stage');
  });

  it('ships only the production dependencies, and package.json for the version', () => {
    const prodDeps = all.find((s) => s.lines.some((l) => /npm ci\b.*--omit=dev/.test(l)));
    assert.ok(prodDeps, 'a stage runs npm ci --omit=dev');
    assert.ok(final.lines.some((l) => new RegExp(`^COPY --from=${prodDeps.name} /app/node_modules`).test(l)));
    assert.ok(!final.lines.some((l) => /^COPY --from=build \/app\/node_modules/.test(l)), 'the build stage node_modules (with dev dependencies) stay out');
    assert.ok(final.lines.some((l) => /^COPY package\.json/.test(l)));
  });
});

describe('.dockerignore', () => {
  const left = ['node_modules/yaml/package.json', '.cluster/pki/ca.key', '.cluster/kubeconfig', '.git/config', 'dist/main.js', 'test/integration/harness.ts', 'charts/modelship/values.yaml', 'operator/src/config.test.ts'];
  for (const path of left) {
    it(`leaves out ${path}`, () => assert.equal(dockerignored(path, ignore), true));
  }

  it('keeps every file the Dockerfile copies from the build context', () => {
    const copied = all.flatMap((s) => s.lines.filter((l) => /^COPY\s/.test(l) && !l.includes('--from=')).flatMap((l) => l.split(/\s+/).slice(1, -1)));
    assert.deepEqual([...new Set(copied)].sort(), ['operator/src', 'package-lock.json', 'package.json', 'tsconfig.build.json', 'tsconfig.json']);
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'operator/src/main.ts', 'operator/src/controller/reconcile.ts']) {
      assert.equal(dockerignored(path, ignore), false, `${path} is left out of the build context`);
    }
  });

  it('the matcher follows the last matching pattern and covers directories', () => {
    assert.equal(dockerignored('a/b', ['a']), true);
    assert.equal(dockerignored('a/b', ['*', '!a/']), false);
    assert.equal(dockerignored('a/x.test.ts', ['*', '!a/', 'a/**/*.test.ts']), true);
    assert.equal(dockerignored('a/b/x.test.ts', ['*', '!a/', 'a/**/*.test.ts']), true);
    assert.equal(dockerignored('b', ['a']), false);
  });
});

describe('the build and the production dependencies', () => {
  // A copy of what the image holds at /app: package.json, package-lock.json, node_modules (production only) and dist/.
  const app = mkdtempSync(join(tmpdir(), 'modelship-image-'));
  before(() => {
    // npm run build, into the temporary app directory (tsc's --outDir), leaving the repository's dist/ alone.
    execFileSync('npm', ['run', 'build', '--', '--outDir', join(app, 'dist')], { cwd: repoRoot, stdio: 'pipe' });
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(repoRoot, f), join(app, f));
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, stdio: 'pipe', timeout: 300_000 });
  });
  after(() => rmSync(app, { recursive: true, force: true }));

  it('the build produces the entrypoint', () => {
    assert.ok(existsSync(join(app, entryFile)), `${entryFile} after npm run build`);
  });

  it('installs the runtime dependencies and none of the dev-only packages', () => {
    for (const name of Object.keys(pkg.dependencies)) assert.ok(existsSync(join(app, 'node_modules', name, 'package.json')), `${name} is installed`);
    // The lock marks what only the dev dependencies need (@types/node is not among them: client-node depends on it).
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.dev === true).map(([path]) => path);
    for (const name of ['typescript', 'fengari', 'node']) assert.ok(devOnly.includes(`node_modules/${name}`), `${name} is dev-only in the lock`);
    for (const path of devOnly) assert.ok(!existsSync(join(app, path)), `${path} (dev only) is not installed`);
  });

  it('starts the operator from the production dependencies alone and prints the version of package.json', () => {
    const r = spawnSync(process.execPath, [entryFile, '--version'], { cwd: app, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), `modelship-operator ${pkg.version}`);
  });

  it('runs the modelship command from dist/cli/main.js with the production dependencies alone', () => {
    assert.ok(all.some((s) => s.lines.some((l) => l.includes('test -f dist/cli/main.js'))), 'the build stage checks it produced the command');
    const example = readFileSync(join(repoRoot, 'examples/quickstart.yaml'), 'utf8');
    const validate = spawnSync(process.execPath, ['dist/cli/main.js', 'validate', '-'], { cwd: app, input: example, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    assert.equal(validate.status, 0, validate.stderr);
    assert.equal(validate.stdout, 'Checked 1 ModelDeployment in 1 file: all valid.\n');
    const render = spawnSync(process.execPath, ['dist/cli/main.js', 'render', '-n', 'ml', '-'], { cwd: app, input: example, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    assert.equal(render.status, 0, render.stderr);
    assert.match(render.stdout, /^kind: Deployment$/m);
  });

  it('refuses an unknown flag with a non-zero exit that names the flag', () => {
    const r = spawnSync(process.execPath, [entryFile, '--no-such-flag=1'], { cwd: app, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Unknown flag --no-such-flag/);
  });
});
