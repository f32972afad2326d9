// Shopify's toxiproxy (built with the other test binaries, .cluster/bin/toxiproxy) for the faults
// that live below HTTP: added latency, connections that hang without closing, and a full outage
// (the proxy disabled: every connection closed, new ones refused). It is a TCP proxy, so TLS passes
// through it untouched.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../cluster/cluster.ts';
import { bin } from '../integration/harness.ts';

export interface Toxic {
  name: string;
  type: 'latency' | 'timeout' | 'reset_peer' | 'bandwidth' | 'slicer' | 'limit_data' | 'slow_close';
  stream?: 'upstream' | 'downstream';
  toxicity?: number;
  attributes: Record<string, number>;
}

export class Toxiproxy {
  readonly listenPort: number;
  private readonly api: string;
  private readonly child: ChildProcess;
  private readonly name = 'apiserver';

  private constructor(child: ChildProcess, apiPort: number, listenPort: number) {
    this.child = child;
    this.api = `http://127.0.0.1:${apiPort}`;
    this.listenPort = listenPort;
  }

  /** Starts toxiproxy with one proxy from a free port on 127.0.0.1 to `upstream` (host:port). */
  static async start(upstream: string): Promise<Toxiproxy> {
    const [apiPort, listenPort] = [await freePort(), await freePort()];
    const child = spawn(bin('toxiproxy'), ['-host', '127.0.0.1', '-port', String(apiPort)], { stdio: 'ignore' });
    const t = new Toxiproxy(child, apiPort, listenPort);
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        if ((await fetch(`${t.api}/version`)).ok) break;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`toxiproxy did not start (exit ${child.exitCode})`);
      await sleep(100);
    }
    await t.call('POST', '/proxies', { name: t.name, listen: `127.0.0.1:${listenPort}`, upstream, enabled: true });
    return t;
  }

  private async call(method: string, path: string, body?: unknown): Promise<void> {
    const r = await fetch(`${this.api}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }) });
    if (!r.ok) throw new Error(`toxiproxy ${method} ${path}: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  }

  addToxic(toxic: Toxic): Promise<void> {
    return this.call('POST', `/proxies/${this.name}/toxics`, { stream: 'downstream', toxicity: 1, ...toxic });
  }

  removeToxic(name: string): Promise<void> {
    return this.call('DELETE', `/proxies/${this.name}/toxics/${name}`);
  }

  /** Disabled: toxiproxy closes every connection and refuses new ones (a full outage). */
  setEnabled(enabled: boolean): Promise<void> {
    return this.call('POST', `/proxies/${this.name}`, { enabled });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
