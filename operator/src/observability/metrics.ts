// One prom-client Registry for the whole process, and every metric the operator exports.
// Names and labels match controller-runtime and client-go so existing dashboards work.
import { collectDefaultMetrics, Counter, exponentialBuckets, Gauge, Histogram, Registry } from 'prom-client';

/** Something that reports in-flight work when /metrics is scraped (a work queue). */
export interface InFlightSource {
  readonly name: string;
  /** Seconds each item currently being processed has been running. */
  inFlightSeconds(): number[];
}

export interface Metrics {
  registry: Registry;
  workqueueDepth: Gauge<'name'>;
  workqueueAdds: Counter<'name'>;
  workqueueQueueDuration: Histogram<'name'>;
  workqueueWorkDuration: Histogram<'name'>;
  workqueueRetries: Counter<'name'>;
  workqueueUnfinishedWork: Gauge<'name'>;
  workqueueLongestRunning: Gauge<'name'>;
  reconcileTotal: Counter<'controller' | 'result'>;
  reconcileErrors: Counter<'controller'>;
  reconcileTime: Histogram<'controller'>;
  maxConcurrentReconciles: Gauge<'controller'>;
  activeWorkers: Gauge<'controller'>;
  restClientRequests: Counter<'code' | 'method' | 'host'>;
  restClientResends: Counter<'method' | 'host'>;
  leaderElectionMasterStatus: Gauge<'name'>;
  leaderLateWrites: Counter;
  /** Watch streams open now, by kind (ours: client-go has none; a soak counts leaks with it). */
  watchesOpen: Gauge<'kind'>;
  /** Watches that ended, by kind and why (closed, gone, silent, error, stopped). */
  watchEnds: Counter<'kind' | 'reason'>;
  /** Registers a queue whose in-flight work feeds the unfinished/longest-running gauges. */
  trackInFlight(source: InFlightSource): () => void;
}

// controller-runtime's buckets for workqueue durations (10ns .. 1000s) and reconcile time.
const WORKQUEUE_BUCKETS = exponentialBuckets(10e-9, 10, 12);
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75,
  2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

export function createMetrics(registry: Registry, options: { defaultMetrics?: boolean } = {}): Metrics {
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const sources = new Set<InFlightSource>();
  const registers = [registry];

  const metrics: Metrics = {
    registry,
    workqueueDepth: new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name'], registers }),
    workqueueAdds: new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name'], registers }),
    workqueueQueueDuration: new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name'],
      buckets: WORKQUEUE_BUCKETS,
      registers,
    }),
    workqueueWorkDuration: new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: ['name'],
      buckets: WORKQUEUE_BUCKETS,
      registers,
    }),
    workqueueRetries: new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name'], registers }),
    workqueueUnfinishedWork: new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: 'How many seconds of work has been done that is in progress and hasn\'t been observed by work_duration',
      labelNames: ['name'],
      registers,
      collect() {
        for (const s of sources) this.set({ name: s.name }, s.inFlightSeconds().reduce((a, b) => a + b, 0));
      },
    }),
    workqueueLongestRunning: new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running',
      labelNames: ['name'],
      registers,
      collect() {
        for (const s of sources) this.set({ name: s.name }, Math.max(0, ...s.inFlightSeconds()));
      },
    }),
    reconcileTotal: new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    }),
    reconcileErrors: new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    }),
    reconcileTime: new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: RECONCILE_BUCKETS,
      registers,
    }),
    maxConcurrentReconciles: new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers,
    }),
    activeWorkers: new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers,
    }),
    restClientRequests: new Counter({
      name: 'rest_client_requests_total',
      help: 'Number of HTTP requests, partitioned by status code, method, and host.',
      labelNames: ['code', 'method', 'host'],
      registers,
    }),
    restClientResends: new Counter({
      name: 'modelship_rest_client_resends_total',
      help: 'Requests sent again because the kept-alive connection they went out on was closed by the other end as they left (its idle limit, a restart, a proxy in between), by method and host. Each is still one request of rest_client_requests_total.',
      labelNames: ['method', 'host'],
      registers,
    }),
    leaderElectionMasterStatus: new Gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. \'name\' is the string used to identify the lease.',
      labelNames: ['name'],
      registers,
    }),
    leaderLateWrites: new Counter({
      name: 'modelship_leader_late_writes_total',
      help: 'Writes whose bytes left after the leader lease had lapsed: the process paused between the write fence and the send. Stays 0 unless the process is frozen or paused for seconds.',
      registers,
    }),
    watchesOpen: new Gauge({
      name: 'modelship_watches_open',
      help: 'Watch streams open now, per kind.',
      labelNames: ['kind'],
      registers,
    }),
    watchEnds: new Counter({
      name: 'modelship_watch_ends_total',
      help: 'Watches that ended, per kind and reason: closed (by the server), gone (410, relisted), silent (inactivity timeout), error, stopped.',
      labelNames: ['kind', 'reason'],
      registers,
    }),
    trackInFlight(source) {
      sources.add(source);
      return () => {
        sources.delete(source);
      };
    },
  };
  return metrics;
}

/** The process-wide registry served on /metrics. */
export const registry = new Registry();
/** The process-wide metrics; modules default to these. */
export const metrics: Metrics = createMetrics(registry);
