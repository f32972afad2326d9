// The one table of reasons: the CamelCase words the operator writes into conditions and Events.
// Each says whether a person must act (Stalled: kstatus reads Failed, Flux stops waiting, Argo CD
// shows Degraded) or the cause may clear by itself (Reconciling: kstatus reads InProgress).
// docs/operations.md (troubleshooting) and docs/gitops/argocd-health.lua follow this table.

export const Reason = {
  // Ready=True.
  Ready: 'Ready',
  Reconciled: 'Reconciled',
  NotStalled: 'NotStalled',

  // A person must act: Stalled=True.
  /** The spec failed validation; the message names the fields. */
  InvalidSpec: 'InvalidSpec',
  /** A Deployment, Service, HPA or PDB of that name exists and is not controlled by this ModelDeployment. */
  ChildConflict: 'ChildConflict',
  /** The API server refused a child for good (422 invalid, 403 forbidden, an immutable field). */
  ApplyRefused: 'ApplyRefused',
  /** The API server refused to create the pods (quota, missing PriorityClass or ServiceAccount, pod security). */
  PodsRefused: 'PodsRefused',
  /** The rollout made no progress within rollout.progressDeadlineSeconds. */
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  /** A container cannot be configured (a missing Secret, ConfigMap or key). */
  ContainerConfigError: 'ContainerConfigError',

  // Stalled once a container has restarted CRASH_LOOP_RESTARTS times, Reconciling before.
  /** The server container keeps crashing (OOMKilled, an error at start-up). */
  CrashLoop: 'CrashLoop',
  /** The model fetcher init container keeps failing (a wrong URI, missing credentials). */
  ModelFetchFailed: 'ModelFetchFailed',

  // May clear by itself: Reconciling=True.
  Creating: 'Creating',
  RollingOut: 'RollingOut',
  /** The HorizontalPodAutoscaler raised the Deployment (to its minimum, or for the load); the new replicas are not available yet. */
  ScalingUp: 'ScalingUp',
  /** Applying a child failed with an error worth retrying (5xx, 429, a timeout). */
  ApplyFailed: 'ApplyFailed',
  /** No node can take the pods now (resources, claims, selectors, taints, cordons). */
  Unschedulable: 'Unschedulable',
  /** An image cannot be pulled (yet). */
  ImagePullFailed: 'ImagePullFailed',
  /** Pods run but have not passed their readiness probe. */
  NotReady: 'NotReady',

  // Events only: what happened.
  Created: 'Created',
  Updated: 'Updated',
  Deleted: 'Deleted',
  DeleteFailed: 'DeleteFailed',
  /** The HorizontalPodAutoscaler raised the number of replicas. */
  ScaledUp: 'ScaledUp',
  /** The HorizontalPodAutoscaler lowered the number of replicas. */
  ScaledDown: 'ScaledDown',
} as const;

export type Reason = (typeof Reason)[keyof typeof Reason];

/** Reasons that always need a person: the status says Stalled=True with them. */
export const ALWAYS_STALLED: ReadonlySet<Reason> = new Set<Reason>([
  Reason.InvalidSpec,
  Reason.ChildConflict,
  Reason.ApplyRefused,
  Reason.PodsRefused,
  Reason.ProgressDeadlineExceeded,
  Reason.ContainerConfigError,
]);

/** Restarts after which a crash loop is no longer waited out: Stalled (kubelet's back-off is then 40 s and growing). */
export const CRASH_LOOP_RESTARTS = 3;
