// `npm run cluster:up`: build what is missing, start (or reuse) the test control plane, and print
// the line that points kubectl at it.
import { clusterUp } from './cluster.ts';

try {
  const { state, reused } = await clusterUp();
  if (reused) process.stderr.write(`[cluster] reusing the cluster that is up at ${state.server}\n`);
  process.stderr.write(`[cluster] binaries: ${state.binDir.replace(/\/$/, '')} (linked in .cluster/bin)\n`);
  process.stdout.write(`export KUBECONFIG=${state.kubeconfig}\n`);
} catch (err) {
  process.stderr.write(`[cluster] FAILED: ${(err as Error).message}\n`);
  process.exit(1);
}
