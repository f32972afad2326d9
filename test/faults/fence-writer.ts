// The writer of the fence soak (fence.soak.ts): loops that apply ConfigMaps as fast as they can
// through the operator's RestClient and transport, behind a fence that a heartbeat keeps open (as
// a renewed lease does: open for 200 ms after each beat, a beat every 50 ms). A freeze of the
// process (SIGSTOP) closes it. Each write names itself in its fieldManager (s0, s1, ...), so the
// audit log's requestURI tells which write the API server received when.
//
// Prints nothing; writes to OUT, on SIGTERM: "CHECK id epochMs" when a write passed the
// transport's check, "LATE id ms" when onLateWrite reported it (the bytes left after the fence
// had closed, ms after the check).
//
//   node test/faults/fence-writer.ts KUBECONFIG NAMESPACE OUT LOOPS
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConnection, type Connection } from '../../operator/src/kube/connection.ts';
import { nodeSender, type HttpSender } from '../../operator/src/kube/http.ts';
import { RestClient } from '../../operator/src/kube/rest.ts';

const [kubeconfig, namespace, out, loops] = [process.argv[2] as string, process.argv[3] as string, process.argv[4] as string, Number(process.argv[5] ?? 6)];
const lines: string[] = [];
const wall = (): number => performance.timeOrigin + performance.now();
const conn = loadConnection({ kubeconfig }) as Connection;
const transport = nodeSender(conn);
// Records the moment each write passed the transport's check (the last one before its bytes leave).
const sender: HttpSender = {
  send(req) {
    const check = req.beforeWrite;
    const id = new URLSearchParams(req.path.split('?')[1]).get('fieldManager');
    return transport.send({
      ...req,
      beforeWrite: () => {
        check?.();
        lines.push(`CHECK ${id} ${wall().toFixed(3)}`);
      },
    });
  },
};
let openUntil = performance.now() + 200;
setInterval(() => (openUntil = performance.now() + 200), 50);
const rest = new RestClient(
  { server: conn.server, sender },
  {
    writeFence: () => {
      if (performance.now() >= openUntil) throw new Error('the fence is closed');
    },
    onLateWrite: (w) => lines.push(`LATE ${new URLSearchParams(w.uri.split('?')[1]).get('fieldManager')} ${w.sinceCheckMs.toFixed(1)}`),
  },
);
process.on('SIGTERM', () => {
  writeFileSync(out, lines.join('\n') + '\n');
  process.exit(0);
});
let seq = 0;
async function loop(k: number): Promise<void> {
  for (;;) {
    const id = `s${seq++}`;
    const name = `fence-${k}`;
    try {
      await rest.request('PATCH', `/api/v1/namespaces/${namespace}/configmaps/${name}`, {
        query: { fieldManager: id, force: true },
        body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: { write: id } },
        contentType: 'application/apply-patch+yaml',
      });
    } catch {
      // Refused by the closed fence (or the API server): let the heartbeat run, then go on.
      await sleep(5);
    }
  }
}
for (let k = 0; k < loops; k++) void loop(k);
