// `npm run cluster:down`: stop every process the test control plane started and remove its state.
import { clusterDown, readState } from './cluster.ts';

const had = readState() !== undefined;
await clusterDown();
process.stderr.write(had ? '[cluster] stopped and removed\n' : '[cluster] nothing was running\n');
