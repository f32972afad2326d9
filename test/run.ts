// `npm test`: the typecheck, then the unit tests (node's test runner, two files at a time), then
// the integration and fault tests one file at a time on one real control plane (test/cluster),
// started by the runner's global setup and stopped by its teardown.
//
//   node test/run.ts                 everything
//   node test/run.ts --unit          unit tests only (no cluster)
//   node test/run.ts --integration   integration and fault tests only
//   node test/run.ts --soak          the long runs (`npm run soak`): the soak, and scenario 1 at 300 models
//   node test/run.ts FILE...         these test files (with the cluster if any needs it)
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const integrationOnly = args.includes('--integration');
const soak = args.includes('--soak');
const files = args.filter((a) => !a.startsWith('--'));

// Node's compile cache for every process the run starts (the typecheck, each test file, every
// operator, the CLI): the code V8 compiled for a module, kept on disk and used while the file is
// unchanged. Each test file and each operator start load the same TypeScript and
// @kubernetes/client-node again; with the cache an operator is ready in 0.39 s instead of 0.69 s
// (median of 7 here), and the unit files take 13.5 to 17 s instead of 21. It lives in node_modules,
// so `npm ci` starts it afresh.
process.env.NODE_COMPILE_CACHE ??= join(root, 'node_modules/.cache/node-compile-cache');

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

const onCluster = (f: string): boolean => f.includes('integration') || f.includes('faults');
// The soak's test is longer than any other (10 minutes of churn, then convergence).
// test/watchdog.ts in every file's process: a file whose process outlives its tests by a minute fails.
const baseArgs = [`--import=${pathToFileURL(join(root, 'test/watchdog.ts')).href}`, '--test', '--test-reporter=spec', `--test-timeout=${soak ? 3_600_000 : 600_000}`];
// Files without the cluster first, two at a time (they share nothing).
const unitArgs = [...baseArgs, '--test-concurrency=2'];
// Then one file at a time on the cluster: the integration files share one cluster, and each runs
// operators that watch every namespace.
const clusterArgs = [...baseArgs, '--test-concurrency=1', `--test-global-setup=${join(root, 'test/integration/global-setup.ts')}`];
// The scenario that kills the shared kube-apiserver and etcd runs last, on its own (the runner
// orders the files it is given by path), so that no other file depends on how the control plane
// came back.
const KILLS_CONTROL_PLANE = 'test/faults/restarts.test.ts';
const chosen = [...new Set(patterns.flatMap((p) => (p.includes('*') ? globSync(p, { cwd: root }) : [p])))];
const alone = chosen.filter((f) => !onCluster(f));
const shared = chosen.filter((f) => onCluster(f) && f !== KILLS_CONTROL_PLANE);
const codes = [
  alone.length > 0 ? run(process.execPath, [...unitArgs, ...alone]) : 0,
  shared.length > 0 ? run(process.execPath, [...clusterArgs, ...shared]) : 0,
  chosen.includes(KILLS_CONTROL_PLANE) ? run(process.execPath, [...clusterArgs, KILLS_CONTROL_PLANE]) : 0,
];
process.exit(codes.find((c) => c !== 0) ?? 0);
