// Pure: the live table the demo prints while a model takes traffic, one row every few seconds:
// the load, the CPU of each pod (as set, and as the HPA sees it), the HPA's desired replicas, the
// ready replicas (with a bar) and the ModelDeployment's status line.
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../operator/src/api/types.ts';

export interface Sample {
  /** Seconds since the act began. */
  seconds: number;
  phase: string;
  rps: number;
  /** The CPU the simulator gives each ready pod, in millicores. */
  cpuMillisPerPod: number | undefined;
  /** The pods' CPU request, in millicores. */
  requestMillis: number;
  hpa: V2HorizontalPodAutoscaler | undefined;
  readyReplicas: number;
  model: ModelDeployment | undefined;
}

/** The HPA's view of the average CPU, as `kubectl get hpa` prints it: "67%/70%" or "<unknown>/70%". */
export function hpaCpu(hpa: V2HorizontalPodAutoscaler | undefined): string {
  const target = hpa?.spec?.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu')?.resource?.target.averageUtilization;
  const current = hpa?.status?.currentMetrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu')?.resource?.current.averageUtilization;
  return `${current === undefined ? '<unknown>' : `${current}%`}/${target === undefined ? '?' : `${target}%`}`;
}

/** The ModelDeployment in one line: Ready's reason, then why the autoscaler does what it does. */
export function statusLine(md: ModelDeployment | undefined): string {
  if (md?.status === undefined) return '(no status yet)';
  const ready = md.status.conditions?.find((c) => c.type === 'Ready');
  const a = md.status.autoscaling;
  const parts = [ready ? `${ready.status === 'True' ? 'Ready' : 'NotReady'}/${ready.reason}` : 'no Ready condition'];
  for (const c of a?.conditions ?? []) {
    // The explaining ones: AbleToScale's reason always, the others when abnormal.
    if (c.type === 'AbleToScale' || (c.type === 'ScalingLimited' && c.status === 'True') || (c.type === 'ScalingActive' && c.status !== 'True')) parts.push(c.reason ?? c.type);
  }
  const last = a?.lastScale;
  if (last?.direction !== undefined) parts.push(`last ${last.direction} ${last.from}→${last.to}`);
  return parts.join(' · ');
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

const COLUMNS: readonly [string, number, boolean][] = [
  ['time', 5, true],
  ['phase', 13, false],
  ['load', 9, true],
  ['cpu/pod', 13, true],
  ['hpa sees', 14, true],
  ['desired', 7, true],
  ['ready', 18, false],
];

export function header(): string {
  return `${COLUMNS.map(([h, n, right]) => pad(h, n, right)).join('  ')}  status`;
}

/** One row; `max` is the most replicas the bar must hold. */
export function row(s: Sample, max: number): string {
  const cpu = s.cpuMillisPerPod === undefined ? '-' : `${Math.round(s.cpuMillisPerPod)}m ${Math.round((s.cpuMillisPerPod / s.requestMillis) * 100)}%`;
  const bar = `${'█'.repeat(Math.min(s.readyReplicas, max))}${'·'.repeat(Math.max(0, max - s.readyReplicas))} ${s.readyReplicas}`;
  const cells = [`${Math.round(s.seconds)}s`, s.phase, `${Math.round(s.rps)} rps`, cpu, hpaCpu(s.hpa), String(s.hpa?.status?.desiredReplicas ?? '-'), bar];
  return `${cells.map((c, i) => pad(c, COLUMNS[i]![1], COLUMNS[i]![2])).join('  ')}  ${statusLine(s.model)}`;
}
