// test/watchdog.ts, loaded as test/run.ts loads it, on a scratch run of node's test runner: a test
// file whose process outlives its tests (a server left listening) fails within the grace, names
// what held it, and the files after it and the runner's global teardown still run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../api/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'modelship-watchdog-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const GRACE_MS = 1000;
const files = {
  'a-leaky.test.mjs': `import { it } from 'node:test';\nimport { createServer } from 'node:net';\nit('leaves a server listening', () => { createServer().listen(0, '127.0.0.1'); });\n`,
  'b-clean.test.mjs': `import { it } from 'node:test';\nit('runs after the leaky file', () => {});\n`,
  // The teardown takes longer than the grace: the runner's own process must not be cut short.
  'setup.mjs': `import { writeFileSync } from 'node:fs';\nimport { setTimeout as sleep } from 'node:timers/promises';\nexport async function globalTeardown() { await sleep(${GRACE_MS * 2}); writeFileSync(${JSON.stringify(join(dir, 'torn-down'))}, 'yes'); }\n`,
};

describe('the test watchdog', () => {
  it('fails a file whose process outlives its tests, naming what holds it; later files and the global teardown still run', () => {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    // This file runs in a test file's process: the scratch runner must not take itself for one.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const r = spawnSync(
      process.execPath,
      [`--import=${pathToFileURL(join(repoRoot, 'test/watchdog.ts')).href}`, '--test', '--test-reporter=spec', '--test-concurrency=1', `--test-global-setup=${join(dir, 'setup.mjs')}`, 'a-leaky.test.mjs', 'b-clean.test.mjs'],
      { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...env, MODELSHIP_TEST_EXIT_GRACE_MS: String(GRACE_MS) } },
    );
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.signal, null, `the run was still going after 60 s:\n${out}`);
    assert.match(out, /\[watchdog\] this test file's process is still running 1 s after its last test, held by: .*TCPServerWrap/);
    assert.match(out, /✖ a-leaky\.test\.mjs/);
    assert.match(out, /✔ runs after the leaky file/);
    assert.equal(r.status, 1);
    assert.equal(readFileSync(join(dir, 'torn-down'), 'utf8'), 'yes');
  });
});
