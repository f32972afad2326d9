// Node's test runner calls these once per run: one real control plane for every integration
// test file. A cluster that was already up (`npm run cluster:up`) is reused and left running.
import { clusterDown, clusterUp } from '../cluster/cluster.ts';

let startedHere = false;

export async function globalSetup(): Promise<void> {
  const { state, reused } = await clusterUp();
  startedHere = !reused;
  process.env.KUBECONFIG = state.kubeconfig;
  process.stderr.write(`[test] ${reused ? 'reusing' : 'started'} the test cluster at ${state.server}\n`);
}

export async function globalTeardown(): Promise<void> {
  if (startedHere && !process.env.MODELSHIP_KEEP_CLUSTER) await clusterDown();
}
