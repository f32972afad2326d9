// The operator process: config, logger, metrics, health, the controller, leader election and
// signals. Everything else lives in the modules named in ARCHITECTURE.md.
import { parseConfig, ConfigError, USAGE, VERSION, wantsHelp, wantsVersion, type Config } from './config.ts';
import { Controller } from './controller/controller.ts';
import { HttpKubeClient } from './kube/client.ts';
import { NotLeaderError } from './kube/errors.ts';
import { EventRecorder } from './kube/events.ts';
import { LeaderElector } from './kube/lease.ts';
import { RestClient } from './kube/rest.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { Checks, startHealthServer, startMetricsServer, type RunningServer } from './observability/health.ts';
import { metrics, registry } from './observability/metrics.ts';
import { renderConfigFrom } from './render/config.ts';

async function run(config: Config, log: Logger): Promise<number> {
  let elector: LeaderElector | undefined;
  // With leader election, no write leaves this process unless it holds the lease (a fence checked
  // right before each request), so a replica that was frozen cannot write after a standby took over.
  const rest = await RestClient.fromDefault({
    metrics,
    writeFence: () => {
      if (elector && !elector.holdsLease()) throw new NotLeaderError();
    },
    onLateWrite: ({ method, uri, sinceCheckMs }) => {
      metrics.leaderLateWrites.inc();
      log.error('A write left after the leader lease had lapsed: the process paused between its lease check and the send (SIGSTOP, a long GC pause, a suspended VM), so a standby may have taken over meanwhile; it reconciles what the write changed', {
        method,
        uri,
        pausedMs: Math.round(sinceCheckMs),
      });
    },
  });
  // Every write's answer goes into a cache that drops its managedFields (controller.ts, assume).
  const client = new HttpKubeClient(rest, { writeAnswersWithoutManagedFields: true });
  const events = new EventRecorder({ client, logger: log });
  const controller = new Controller({
    rest,
    client,
    events,
    logger: log,
    metrics,
    renderConfig: renderConfigFrom(config),
    namespaces: config.watchNamespaces,
    concurrency: config.concurrency,
    watchInactivityTimeoutMs: config.watchInactivityTimeoutSeconds * 1000,
  });

  const liveness = new Checks();
  liveness.add('ping', () => true);
  const readiness = new Checks();
  // Ready once the caches are synced, leader or not: a standby must pass its readiness probe.
  readiness.add('informers-synced', () => controller.hasSynced());
  const servers: RunningServer[] = [await startHealthServer(config.healthProbeBindAddress, liveness, readiness)];
  if (config.metricsBindAddress) servers.push(await startMetricsServer(config.metricsBindAddress, registry));

  controller.startInformers();
  log.info('Started the operator', {
    version: VERSION,
    server: rest.server,
    namespaces: config.watchNamespaces.length ? config.watchNamespaces : 'all',
    concurrency: config.concurrency,
    leaderElect: config.leaderElect,
  });

  let stopping = false;
  const done = new Promise<number>((resolve) => {
    const shutdown = async (signal: string, code: number) => {
      if (stopping) return;
      stopping = true;
      log.info('Received a signal, shutting down', { signal });
      try {
        await controller.stop(config.shutdownTimeoutSeconds * 1000);
        await elector?.release();
        await elector?.stop();
        await events.flush();
        await Promise.all(servers.map((s) => s.close()));
      } catch (err) {
        log.error('Shutdown did not finish cleanly', { error: (err as Error).message });
        code = 1;
      }
      log.info('Stopped the operator', { code });
      resolve(code);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
    process.once('SIGINT', () => void shutdown('SIGINT', 0));
    const begin = async () => {
      if (!(await controller.waitForSync())) return;
      log.info('Synced the caches');
      if (!config.leaderElect) {
        controller.startWorkers();
        return;
      }
      elector = new LeaderElector({
        // The elector's own requests are not fenced: renewing is how the fence opens again.
        client: new HttpKubeClient(rest.withOptions({ metrics })),
        namespace: config.leaderElectionNamespace,
        name: config.leaderElectionId,
        logger: log,
        metrics,
        onStartedLeading: () => {
          log.info('Became the leader: reconciling', { lease: `${config.leaderElectionNamespace}/${config.leaderElectionId}` });
          controller.startWorkers();
        },
        onStoppedLeading: () => {
          if (stopping) return;
          stopping = true;
          // Another replica may already be reconciling: stop at once, cancel what is in flight, do
          // not drain the queue, and let the pod restart (controller-runtime exits the same way).
          log.error('Lost the leader lease: stopped reconciling and exiting so that only one replica reconciles');
          void (async () => {
            await controller.abort();
            await Promise.all(servers.map((s) => s.close()));
            resolve(1);
          })();
        },
      });
      void elector.run();
    };
    void begin();
  });
  return done;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (wantsVersion(argv)) {
    process.stdout.write(`modelship-operator ${VERSION}\n`);
    return;
  }
  if (wantsHelp(argv)) {
    process.stdout.write(USAGE);
    return;
  }
  let config: Config;
  try {
    config = parseConfig(argv, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`modelship-operator: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  process.on('unhandledRejection', (err) => log.error('Caught an unhandled rejection', { error: (err as Error)?.stack ?? String(err) }));
  process.exitCode = await run(config, log);
  // Open watches and timers are closed; exit even if a socket lingers.
  setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
}

await main();
