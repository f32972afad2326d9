// `npm test`: the typecheck, then every unit and integration test in one run of node's test
// runner. The integration tests share one real control plane (test/cluster), started by the
// global setup and stopped by its teardown.
//
//   node test/run.ts                 everything
//   node test/run.ts --unit          unit tests only (no cluster)
//   node test/run.ts --integration   integration and fault tests only
//   node test/run.ts --soak          the long runs (`npm run soak`): the soak, and scenario 1 at 300 models
//   node test/run.ts FILE...         these test files (with the cluster if any needs it)
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const integrationOnly = args.includes('--integration');
const soak = args.includes('--soak');
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
// The fault scenarios (test/faults) run on the same shared cluster as the integration tests.
const faults = 'test/faults/**/*.test.ts';
let patterns: string[];
if (files.length > 0) patterns = files;
else if (unitOnly) patterns = [unit];
else if (integrationOnly) patterns = [integration, faults];
else if (soak) patterns = ['test/faults/**/*.soak.ts', 'test/faults/api-errors.test.ts'];
else patterns = [unit, integration, faults];
// The soak runs scenario 1 at the size.
if (soak) process.env.MODELSHIP_FAULTS_MODELS ??= '300';

const needsCluster = patterns.some((p) => p.includes('integration') || p.includes('faults'));
// One file at a time: the integration files share one cluster, and each runs operators that
// watch every namespace.
// The soak's test is longer than any other (10 minutes of churn, then convergence).
const testArgs = ['--test', '--test-reporter=spec', `--test-timeout=${soak ? 3_600_000 : 600_000}`, '--test-concurrency=1'];
if (needsCluster) testArgs.push(`--test-global-setup=${join(root, 'test/integration/global-setup.ts')}`);
// The scenario that kills the shared kube-apiserver and etcd runs last, on its own (the runner
// orders the files it is given by path), so that no other file depends on how the control plane
// came back.
const KILLS_CONTROL_PLANE = 'test/faults/restarts.test.ts';
const chosen = [...new Set(patterns.flatMap((p) => (p.includes('*') ? globSync(p, { cwd: root }) : [p])))];
const rest = chosen.filter((f) => f !== KILLS_CONTROL_PLANE);
const first = rest.length > 0 ? run(process.execPath, [...testArgs, ...rest]) : 0;
const last = rest.length < chosen.length ? run(process.execPath, [...testArgs, KILLS_CONTROL_PLANE]) : 0;
process.exit(first !== 0 ? first : last);
