// `npm test`: the typecheck, then every unit and integration test in one run of node's test
// runner. The integration tests share one real control plane (test/cluster), started by the
// global setup and stopped by its teardown.
//
//   node test/run.ts                 everything
//   node test/run.ts --unit          unit tests only (no cluster)
//   node test/run.ts --integration   integration tests only
//   node test/run.ts FILE...         these test files (with the cluster if any is an integration test)
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const integrationOnly = args.includes('--integration');
const files = args.filter((a) => !a.startsWith('--'));

function run(cmd: string, cmdArgs: string[]): number {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  return r.status ?? 1;
}

const typecheck = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
if (typecheck !== 0) {
  console.error('Typecheck failed: fix the errors above.');
  process.exit(typecheck);
}

const unit = 'test/unit/**/*.test.ts';
const integration = 'test/integration/**/*.test.ts';
let patterns: string[];
if (files.length > 0) patterns = files;
else if (unitOnly) patterns = [unit];
else if (integrationOnly) patterns = [integration];
else patterns = [unit, integration];

const needsCluster = patterns.some((p) => p.includes('integration'));
// One file at a time: the integration files share one cluster, and each runs operators that
// watch every namespace.
const testArgs = ['--test', '--test-reporter=spec', '--test-timeout=600000', '--test-concurrency=1'];
if (needsCluster) testArgs.push(`--test-global-setup=${join(root, 'test/integration/global-setup.ts')}`);
process.exit(run(process.execPath, [...testArgs, ...patterns]));
