import { RestClient } from '../operator/src/kube/rest.ts';
const rest = await RestClient.fromDefault();
const gc = (globalThis as { gc?: () => void }).gc!;
const ns = 'kube-system';
gc(); const base = process.memoryUsage().heapUsed;
const ac = new AbortController();
for (let i = 0; i < 3000; i += 8) {
  await Promise.all(Array.from({ length: 8 }, () => rest.request('GET', `/api/v1/namespaces/${ns}/configmaps`, { signal: ac.signal })));
}
gc(); console.log('after 3000 requests, retained MiB', ((process.memoryUsage().heapUsed - base) / 1048576).toFixed(1));
await new Promise((r) => setTimeout(r, 31_000));
gc(); console.log('after 31 s, retained MiB', ((process.memoryUsage().heapUsed - base) / 1048576).toFixed(1));
