// The README's promise that its commands are the first ones on a fresh clone: git clone into an
// empty folder, no node_modules, and the npm script a user types (`npm run test:unit`, the unit half
// of `npm test`) with the machine's own node and npm, none of the project's on PATH. It must
// install the dependencies itself, then pass. (The clone is of HEAD: commit before running it.)
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { it } from 'node:test';
import { repoRoot } from './harness.ts';

/** The environment of a shell on this machine: no npm or test runner variables, no project's node_modules/.bin on PATH. */
function machineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // NODE_TEST_CONTEXT would make the clone's test runner think it runs inside this test, and skip its files.
  // NODE_COMPILE_CACHE is the outer run's (test/run.ts): the clone's run sets its own.
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_TEST_CONTEXT' && k !== 'NODE_COMPILE_CACHE') env[k] = v;
  env['PATH'] = (process.env['PATH'] ?? '')
    .split(delimiter)
    .filter((p) => !p.includes(`node_modules${'/'}.bin`) && !p.includes('node-gyp-bin') && !p.startsWith(repoRoot))
    .join(delimiter);
  // From the npm cache when it holds the packages (the outer run installed them): no need to ask the registry.
  env['npm_config_prefer_offline'] = 'true';
  return env;
}

it('npm run test:unit on a fresh clone installs the dependencies first, then passes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-clone-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const clone = join(dir, 'modelship');
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', repoRoot, clone], { stdio: 'pipe' });
  assert.equal(existsSync(join(clone, 'node_modules')), false, 'a fresh clone has no node_modules');
  const env = machineEnv();
  t.diagnostic(`the machine's node: ${execFileSync('node', ['--version'], { env, encoding: 'utf8' }).trim()}`);

  const { code, out } = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile('npm', ['run', 'test:unit'], { cwd: clone, env, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}\n${stderr}` }),
    );
  });
  assert.equal(code, 0, out.slice(-4000));
  assert.match(out, /==> Installing the dependencies with npm ci \(node_modules is missing\)/);
  assert.match(out, /^ℹ fail 0$/m);
  const passed = Number(/^ℹ pass (\d+)$/m.exec(out)?.[1] ?? 0);
  assert.ok(passed > 500, `the unit tests ran (${passed} passed)`);
  assert.ok(existsSync(join(clone, 'node_modules/.bin/node')), "the project's Node.js is installed");

  // Installed now: the next command goes straight on.
  const check = execFileSync('node', ['scripts/install-first.mjs', '--check'], { cwd: clone, env, encoding: 'utf8' });
  assert.equal(check, 'node_modules matches package-lock.json\n');
});
