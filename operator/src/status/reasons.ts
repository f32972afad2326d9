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
  /** A canary runs: its step's replicas are starting. */
  CanaryProgressing: 'CanaryProgressing',
  /** A canary holds its share of the traffic for its pause, or until a person promotes it. */
  CanaryPaused: 'CanaryPaused',
  /** The canary takes every replica before it becomes the stable revision. */
  Promoting: 'Promoting',

  // Ready (the previous revision serves) and Stalled: the spec's revision failed and was rolled back.
  RolledBack: 'RolledBack',

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
  Reason.RolledBack,
  Reason.ChildConflict,
  Reason.ApplyRefused,
  Reason.PodsRefused,
  Reason.ProgressDeadlineExceeded,
  Reason.ContainerConfigError,
]);

/** Restarts after which a crash loop is no longer waited out: Stalled (kubelet's back-off is then 40 s and growing). */
export const CRASH_LOOP_RESTARTS = 3;

/**
 * What a person does about each reason the Ready condition can carry, as docs/operations.md's
 * troubleshooting table says it (a unit test keeps the two the same); `modelship explain` prints it.
 */
export const WHAT_TO_DO: Readonly<Partial<Record<Reason, string>>> = {
  [Reason.Creating]: 'Wait; the message counts the replicas.',
  [Reason.RollingOut]: 'Wait; the message counts the replicas.',
  [Reason.ScalingUp]: 'Wait a few seconds (the HPA syncs every 15 s); for `Unschedulable`, add capacity or lower `autoscaling.maxReplicas`.',
  [Reason.InvalidSpec]: 'Fix the fields named.',
  [Reason.ChildConflict]: 'Delete or rename that object (the ModelDeployment converges within seconds), or rename the ModelDeployment.',
  [Reason.ApplyRefused]: "Fix the field named in the API server's message, or grant the permission.",
  [Reason.ApplyFailed]: 'Check the API server if it persists.',
  [Reason.PodsRefused]: 'Raise the quota, create the object, or change the spec.',
  [Reason.Unschedulable]: 'Add capacity (a cluster autoscaler may), fix the claim, or change `resources`/`scheduling`.',
  [Reason.ImagePullFailed]: 'Check the image name, the registry and `pod.imagePullSecrets`.',
  [Reason.ContainerConfigError]: 'Create the Secret or key.',
  [Reason.CrashLoop]: "Read the container's logs; fix the model, the args or the memory limit.",
  [Reason.ModelFetchFailed]: 'Fix `model.uri` or the credentials.',
  [Reason.NotReady]: 'Wait, or raise `runtime.startupProbe.failureThreshold` for slow models; check the logs.',
  [Reason.ProgressDeadlineExceeded]: 'Fix the cause named; any change to the spec starts a new rollout.',
  [Reason.CanaryProgressing]: "Wait; the canary's pods are starting (docs/rollouts.md).",
  [Reason.CanaryPaused]: 'Wait for the pause, or promote or abort with the annotation the message names.',
  [Reason.Promoting]: 'Wait; the canary takes every replica, then becomes the stable revision.',
  [Reason.RolledBack]: 'The old model serves. Fix the new revision (the message names why it failed) and change the spec to try again.',
};
