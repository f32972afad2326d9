// `npm run demo`: a local real cluster, the operator, and models being served.
//
// Brings up the test control plane (building it on first use), installs the CRD, starts the
// operator, applies two examples, waits until they are Ready and prints what the operator made.
// Act 2 puts simulated traffic on the autoscaled example and prints a live table until it has
// scaled up and back down. Then it prints what to try next and runs until Ctrl-C, which stops the
// traffic, the operator and the cluster cleanly. MODELSHIP_DEMO_ONCE=1 exits after act 2 (the
// integration test uses it); MODELSHIP_DEMO_SCALE_DOWN_SECONDS sets act 2's stabilization window.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { clusterDown, clusterUp, kubeconfigFor, repoRoot, waitForCrd } from './cluster/cluster.ts';
import { elasticityAct } from './demo-elasticity.ts';

const NAMESPACE = 'modelship-demo';
const EXAMPLES = ['examples/quickstart.yaml', 'examples/xgboost-autoscaling.yaml'];
const AUTOSCALED = 'fraud-detector';

function say(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

const { state, reused } = await clusterUp();
const kubectlBin = join(state.binDir, 'kubectl');
const kubectl = (...args: string[]): string =>
  execFileSync(kubectlBin, ['--kubeconfig', state.kubeconfig, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

say(`==> Cluster ${reused ? 'reused' : 'started'}: Kubernetes at ${state.server}`);
kubectl('apply', '--server-side', '--force-conflicts', '-f', join(repoRoot, 'crds/modeldeployments.serving.modelship.dev.yaml'));
waitForCrd((args) => kubectl(...args), 'modeldeployments.serving.modelship.dev');
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
const act = new AbortController();
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    act.abort();
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

const scaleDownWindow = Number(process.env.MODELSHIP_DEMO_SCALE_DOWN_SECONDS ?? 30);
say(`==> Act 2: traffic on ${AUTOSCALED}. A simulator sets each ready pod's CPU to load ÷ ready pods × cost per request (kwok reports it, metrics-server serves it, the HPA acts on it).`);
const result = await elasticityAct({ kubectl: kubectlBin, kubeconfig: state.kubeconfig, namespace: NAMESPACE, model: AUTOSCALED, scaleDownWindowSeconds: scaleDownWindow, say, signal: act.signal });
if (act.signal.aborted) await new Promise(() => {}); // Ctrl-C: stop() exits.
say('');
say(result.finished
  ? `==> ${AUTOSCALED} scaled from 2 to ${result.peak} replicas ${Math.round(result.upSeconds ?? 0)} s after the load rose, and came back down to its minimum ${Math.round(result.downSeconds ?? 0)} s after it fell (stabilization window ${scaleDownWindow} s).`
  : `==> ${AUTOSCALED} did not come back to its minimum in time (peak ${result.peak} replicas): see kubectl describe hpa/${AUTOSCALED} -n ${NAMESPACE}.`);
say(kubectl('get', 'mdep', AUTOSCALED, '-n', NAMESPACE, '-o', 'wide'));
say(kubectl('get', 'events', '-n', NAMESPACE, '--field-selector', `involvedObject.name=${AUTOSCALED},involvedObject.kind=ModelDeployment`, '-o', 'custom-columns=REASON:.reason,MESSAGE:.message', '--sort-by=.lastTimestamp'));
say(`Try next (in another terminal):
  export KUBECONFIG=${state.kubeconfig}
  export PATH=${join(repoRoot, '.cluster/bin')}:$PATH
  kubectl get mdep -n ${NAMESPACE} -w
  kubectl scale mdep/quickstart -n ${NAMESPACE} --replicas=3
  kubectl patch mdep/quickstart -n ${NAMESPACE} --type=merge -p '{"spec":{"model":{"uri":"https://models.example.com/iris/v2/model.joblib","version":"2"}}}'
  kubectl describe mdep/fraud-detector -n ${NAMESPACE}
  kubectl top pods -n ${NAMESPACE}
  kubectl annotate pods -n ${NAMESPACE} -l app.kubernetes.io/instance=fraud-detector --overwrite kwok.x-k8s.io/usage-cpu=900m
  kubectl explain modeldeployment.spec.autoscaling
  kubectl apply -n ${NAMESPACE} -f examples/llm-vllm-gpu.yaml

Press Ctrl-C to stop the operator${reused ? '' : ' and the cluster'}.`);

if (process.env.MODELSHIP_DEMO_ONCE) await stop(0);
