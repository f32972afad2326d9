// scripts/install-first.mjs, in a scratch project: when it installs (and with which npm), when it
// does not, and that it then runs the script with the project's node and passes its exit code on.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../api/fixtures.ts';

const LOCK = { name: 'p', lockfileVersion: 3, requires: true, packages: { '': { name: 'p' }, 'node_modules/a': { version: '1.0.0', integrity: 'sha512-x' } } };
const INSTALLED = { name: 'p', lockfileVersion: 3, requires: true, packages: { 'node_modules/a': { version: '1.0.0', integrity: 'sha512-x' } } };
// The project's node, faked: it says what it was asked to run and exits 3.
const FAKE_NODE = '#!/bin/sh\necho "ran $*"\nexit 3\n';

const scratch: string[] = [];
after(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));

function project(opts: { installed?: object | 'none'; nodeBin?: boolean; lock?: object } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-install-first-'));
  scratch.push(dir);
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(repoRoot, 'scripts/install-first.mjs'), join(dir, 'scripts/install-first.mjs'));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(opts.lock ?? LOCK));
  if (opts.installed !== undefined) {
    mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
    if (opts.installed !== 'none') writeFileSync(join(dir, 'node_modules/.package-lock.json'), JSON.stringify(opts.installed));
    if (opts.nodeBin !== false) {
      writeFileSync(join(dir, 'node_modules/.bin/node'), FAKE_NODE);
      chmodSync(join(dir, 'node_modules/.bin/node'), 0o755);
    }
  }
  return dir;
}

function run(dir: string, args: string[], env: Record<string, string> = {}) {
  const { npm_execpath: _, ...rest } = process.env;
  return spawnSync(process.execPath, [join(dir, 'scripts/install-first.mjs'), ...args], { cwd: dir, encoding: 'utf8', env: { ...rest, ...env } });
}

describe('install-first --check', () => {
  const cases = [
    { title: 'no node_modules', dir: () => project(), out: 'npm ci is needed: node_modules is missing' },
    { title: 'no record of an install', dir: () => project({ installed: 'none' }), out: 'npm ci is needed: node_modules has no record of what npm installed' },
    {
      title: 'a package of another version',
      dir: () => project({ installed: { ...INSTALLED, packages: { 'node_modules/a': { version: '0.9.0', integrity: 'sha512-x' } } } }),
      out: 'npm ci is needed: node_modules does not match package-lock.json',
    },
    {
      title: 'a package the lock no longer has',
      dir: () => project({ installed: { ...INSTALLED, packages: { ...INSTALLED.packages, 'node_modules/b': { version: '1.0.0' } } } }),
      out: 'npm ci is needed: node_modules does not match package-lock.json',
    },
    { title: 'no project node', dir: () => project({ installed: INSTALLED, nodeBin: false }), out: "npm ci is needed: the project's Node.js (node_modules/.bin/node) is missing" },
  ];
  for (const c of cases) {
    it(`asks for npm ci with ${c.title}`, () => {
      const r = run(c.dir(), ['--check']);
      assert.equal(r.status, 1);
      assert.equal(r.stdout, `${c.out}\n`);
    });
  }

  it('is content with node_modules as npm ci leaves it', () => {
    const r = run(project({ installed: INSTALLED }), ['--check']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, 'node_modules matches package-lock.json\n');
  });
});

describe('install-first SCRIPT', () => {
  it('runs the script with the project node at once when nothing is missing, and passes its exit code on', () => {
    const r = run(project({ installed: INSTALLED }), ['test/run.ts', '--unit']);
    assert.equal(r.stdout, 'ran test/run.ts --unit\n');
    assert.equal(r.stderr, '');
    assert.equal(r.status, 3);
  });

  it('installs first with the npm that started it (npm_execpath), then runs the script', () => {
    const dir = project();
    // A stand-in for npm: records its arguments and installs as npm ci would.
    const npm = join(dir, 'fake-npm-cli.js');
    writeFileSync(
      npm,
      `const fs = require('fs');
fs.writeFileSync('npm-args.json', JSON.stringify(process.argv.slice(2)));
fs.mkdirSync('node_modules/.bin', { recursive: true });
fs.writeFileSync('node_modules/.package-lock.json', ${JSON.stringify(JSON.stringify(INSTALLED))});
fs.writeFileSync('node_modules/.bin/node', ${JSON.stringify(FAKE_NODE)}, { mode: 0o755 });
`,
    );
    const r = run(dir, ['test/demo.ts'], { npm_execpath: npm });
    assert.equal(r.stderr, '==> Installing the dependencies with npm ci (node_modules is missing)\n');
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'npm-args.json'), 'utf8')), ['ci', '--no-audit', '--no-fund']);
    assert.equal(r.stdout, 'ran test/demo.ts\n');
    assert.equal(r.status, 3);
  });

  it('stops with npm\'s exit code and a plain message when npm ci fails', () => {
    const dir = project();
    const npm = join(dir, 'failing-npm-cli.js');
    writeFileSync(npm, 'process.exit(7);\n');
    const r = run(dir, ['test/run.ts'], { npm_execpath: npm });
    assert.equal(r.status, 7);
    assert.match(r.stderr, /Installing the dependencies failed \(npm ci exited 7\): fix the error above, then run the command again\.\n$/);
    assert.equal(existsSync(join(dir, 'node_modules')), false);
  });
});
