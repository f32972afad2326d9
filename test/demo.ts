// `npm run demo`: a local real cluster, the operator, and models being served.
//
// Brings up the test control plane (building it on first use), installs the CRD, starts the
// operator, applies two examples, waits until they are Ready, prints what the operator made and
// what to try next, then runs until Ctrl-C, which stops the operator and the cluster cleanly.
// MODELSHIP_DEMO_ONCE=1 exits after printing (the integration test uses it).
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { clusterDown, clusterUp, kubeconfigFor, repoRoot } from './cluster/cluster.ts';

const NAMESPACE = 'modelship-demo';
const EXAMPLES = ['examples/quickstart.yaml', 'examples/xgboost-autoscaling.yaml'];

function say(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

const { state, reused } = await clusterUp();
const kubectlBin = join(state.binDir, 'kubectl');
const kubectl = (...args: string[]): string =>
  execFileSync(kubectlBin, ['--kubeconfig', state.kubeconfig, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

say(`==> Cluster ${reused ? 'reused' : 'started'}: Kubernetes at ${state.server}`);
kubectl('apply', '--server-side', '--force-conflicts', '-f', join(repoRoot, 'crds/modeldeployments.serving.modelship.dev.yaml'));
kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/modeldeployments.serving.modelship.dev');
say('==> Installed the ModelDeployment CRD');

const operator = spawn(
  process.execPath,
  [join(repoRoot, 'operator/src/main.ts'), '--leader-elect=false', '--health-probe-bind-address=127.0.0.1:0', '--metrics-bind-address=0'],
  { env: { ...process.env, KUBECONFIG: kubeconfigFor('modelship-operator', ['system:masters']) }, stdio: ['ignore', 'pipe', 'pipe'] },
);
const operatorLog: string[] = [];
operator.stdout.on('data', (d: Buffer) => operatorLog.push(d.toString()));
operator.stderr.on('data', (d: Buffer) => operatorLog.push(d.toString()));
say(`==> Started the operator (pid ${operator.pid})`);

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('\n==> Stopping the operator');
    operator.kill('SIGTERM');
    await new Promise((r) => (operator.exitCode !== null ? r(null) : operator.once('exit', r)));
    if (!reused && !process.env.MODELSHIP_KEEP_CLUSTER) {
      say('==> Stopping the cluster');
      await clusterDown();
    }
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
operator.once('exit', (code) => {
  if (stopping) return;
  process.stderr.write(`The operator exited with ${code}:\n${operatorLog.join('').split('\n').slice(-20).join('\n')}\n`);
  void stop(1);
});

try {
  kubectl('create', 'namespace', NAMESPACE);
} catch {
  // Already there from an earlier run.
}
for (const ex of EXAMPLES) kubectl('apply', '-n', NAMESPACE, '-f', join(repoRoot, ex));
say(`==> Applied ${EXAMPLES.join(' and ')} in namespace ${NAMESPACE}; waiting for Ready`);
try {
  kubectl('wait', '--for=condition=Ready', '--timeout=120s', '-n', NAMESPACE, 'mdep', '--all');
} catch (err) {
  process.stderr.write(`The models did not become Ready: ${(err as { stderr?: string }).stderr ?? err}\n`);
  await stop(1);
}
say('');
say(kubectl('get', 'mdep,deploy,svc,hpa,pdb', '-n', NAMESPACE));
say(`Try next (in another terminal):
  export KUBECONFIG=${state.kubeconfig}
  export PATH=${join(repoRoot, '.cluster/bin')}:$PATH
  kubectl get mdep -n ${NAMESPACE} -w
  kubectl scale mdep/quickstart -n ${NAMESPACE} --replicas=3
  kubectl patch mdep/quickstart -n ${NAMESPACE} --type=merge -p '{"spec":{"model":{"uri":"https://models.example.com/iris/v2/model.joblib","version":"2"}}}'
  kubectl describe mdep/fraud-detector -n ${NAMESPACE}
  kubectl explain modeldeployment.spec.autoscaling
  kubectl apply -n ${NAMESPACE} -f examples/llm-vllm-gpu.yaml

Press Ctrl-C to stop the operator${reused ? '' : ' and the cluster'}.`);

if (process.env.MODELSHIP_DEMO_ONCE) await stop(0);
