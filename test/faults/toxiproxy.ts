// Shopify's toxiproxy (built with the other test binaries, .cluster/bin/toxiproxy) for the faults
// that live below HTTP: added latency, connections that hang without closing, and a full outage
// (the proxy disabled: every connection closed, new ones refused). It is a TCP proxy, so TLS passes
// through it untouched.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../cluster/ports.ts';
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

  private constructor(apiPort: number, listenPort: number) {
    this.child = spawn(bin('toxiproxy'), ['-host', '127.0.0.1', '-port', String(apiPort)], { stdio: 'ignore' });
    this.api = `http://127.0.0.1:${apiPort}`;
    this.listenPort = listenPort;
  }

  /** The process's id, while it runs. */
  get pid(): number | undefined {
    return this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /**
   * Starts toxiproxy with one proxy from a free port on 127.0.0.1 to `upstream` (host:port). A
   * toxiproxy that cannot take its ports exits or refuses the proxy: it is stopped, and started
   * again on other ports (three tries). It never outlives a failed start: a child left running keeps
   * the test file's process alive after its last test. `listenPort`: the proxy's port, when a test
   * chooses it.
   */
  static async start(upstream: string, listenPort?: number): Promise<Toxiproxy> {
    for (let attempt = 1; ; attempt++) {
      // The proxy's port is not left to toxiproxy (port 0): an outage disables the proxy and
      // enabling it listens again on the same port, which must not be one an outgoing connection
      // may hold by then (freePort).
      const t = new Toxiproxy(await freePort(), listenPort ?? (await freePort()));
      try {
        await t.serve(upstream);
        return t;
      } catch (err) {
        await t.stop();
        if (attempt === 3) throw err;
      }
    }
  }

  private async serve(upstream: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        if ((await fetch(`${this.api}/version`)).ok) break;
      } catch {
        // not listening yet
      }
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`toxiproxy did not start (exit ${this.child.exitCode})`);
      await sleep(100);
    }
    await this.call('POST', '/proxies', { name: this.name, listen: `127.0.0.1:${this.listenPort}`, upstream, enabled: true });
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
    if (this.pid === undefined) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000, undefined, { ref: false })]);
    if (this.pid !== undefined) this.child.kill('SIGKILL');
  }
}
