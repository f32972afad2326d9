// What the README promises a new user, in the order they read it: its first lines are the two
// commands (scripts/install-first.mjs makes them work on a fresh clone), and installing starts with
// building the image, since none is published.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { repoRoot } from '../api/fixtures.ts';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

it('starts with npm run demo and npm test, nothing before them, and asks for no npm install', () => {
  const lines = readme.split('\n');
  assert.equal(lines[0], '```sh');
  assert.match(lines[1] ?? '', /^npm run demo\s+#/);
  assert.match(lines[2] ?? '', /^npm test\s+#/);
  assert.equal(lines[3], '```');
  assert.doesNotMatch(readme, /npm install first|run `npm install`/);
  for (const script of ['demo', 'test', 'test:unit']) assert.match(pkg.scripts[script] ?? '', /^node scripts\/install-first\.mjs /, `npm run ${script} installs first`);
});

it('installs by building and pushing the image first, then points the chart at it', () => {
  const install = readme.slice(readme.indexOf('## Install'), readme.indexOf('\n## ', readme.indexOf('## Install') + 1));
  assert.match(install, /^## Install\n\nNo Modelship image is published anywhere/);
  const build = install.indexOf('docker build');
  const push = install.indexOf('docker push');
  const helm = install.indexOf('helm install modelship');
  assert.ok(build > 0 && build < push && push < helm, 'build, push, then helm install');
  assert.match(install.slice(helm), /--set image\.repository=\S+ --set image\.tag=/);
});
