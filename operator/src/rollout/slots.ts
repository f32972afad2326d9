// Revisions and slots: how the Deployments that serve one ModelDeployment are named, labelled and
// told apart. Pure.
//
// A revision is a hash of the pod template the operator renders (model, runtime, resources, pod
// settings): two specs that run the same pods have the same revision. A slot is one Deployment.
// The first Deployment of a ModelDeployment is named like it and selects {name, instance}, as
// before canaries existed, so nothing restarts on upgrade; a canary gets a Deployment of its own,
// NAME-<slot>, whose selector and pod labels add serving.modelship.dev/slot, and which keeps that
// name when it is promoted: promotion relabels it, it never restarts pods.
import { createHash } from 'node:crypto';
import type { V1Deployment, V1PodTemplateSpec } from '@kubernetes/client-node';

/** Deployment label: stable or canary. Metadata only: changing it restarts nothing. */
export const ROLE_LABEL = 'serving.modelship.dev/role';
/** Deployment, selector and pod label of a canary-born slot; the legacy slot has none. */
export const SLOT_LABEL = 'serving.modelship.dev/slot';
/** Deployment annotation: the revision its template runs. */
export const REVISION_ANNOTATION = 'serving.modelship.dev/revision';

export type Role = 'stable' | 'canary';

/** The revision of a rendered pod template: the first 10 hex digits of its SHA-256. */
export function revisionOf(template: V1PodTemplateSpec | undefined): string {
  return createHash('sha256').update(JSON.stringify(template ?? {})).digest('hex').slice(0, 10);
}

/** The name of a canary slot's Deployment. */
export function slotName(mdName: string, slot: string): string {
  return `${mdName}-${slot}`;
}

/**
 * The base Deployment (as render made it, for the spec's revision) shaped for one slot: its name,
 * its role and revision, the slot label in its selector and pod labels (for canary-born slots),
 * and the replicas the rollout wants (undefined: the HPA owns them).
 */
export function shapeSlot(base: V1Deployment, slot: { name: string; slot?: string; role: Role; revision: string; replicas: number | undefined }): V1Deployment {
  // A copy of what it changes; the rest (the pod template's spec) is base's, never written.
  const spec = { ...base.spec! };
  const d: V1Deployment = {
    ...base,
    metadata: {
      ...base.metadata,
      name: slot.name,
      labels: { ...base.metadata?.labels, [ROLE_LABEL]: slot.role, ...(slot.slot ? { [SLOT_LABEL]: slot.slot } : {}) },
      annotations: { ...base.metadata?.annotations, [REVISION_ANNOTATION]: slot.revision },
    },
    spec,
  };
  if (slot.slot) {
    spec.selector = { matchLabels: { ...spec.selector.matchLabels, [SLOT_LABEL]: slot.slot } };
    spec.template = { ...spec.template, metadata: { ...spec.template.metadata, labels: { ...spec.template.metadata?.labels, [SLOT_LABEL]: slot.slot } } };
  }
  if (slot.replicas === undefined) delete spec.replicas;
  else spec.replicas = slot.replicas;
  return d;
}
