{{/*
The operator's rules, and nothing more: every verb here is one the operator calls, and removing any
one rule makes a named integration test fail (test/integration/chart-rbac.test.ts). No wildcards; no
secrets (the operator names a credentials Secret in the pods it renders but never reads it).
- ModelDeployments are read only through the informer (list, watch), never with get; the status is
  written by server-side apply on /status (patch). The operator never writes a spec. Children carry
  blockOwnerDeletion, which needs update on modeldeployments/finalizers where the
  OwnerReferencesPermissionEnforcement admission plugin runs (OpenShift).
- Children are read through informers (list, watch), looked up with get before they are first
  created (the label-filtered informer cannot see an unlabelled object of that name, which the
  operator must then leave alone), and written by server-side apply, which needs create (a new
  object) as well as patch. A child no longer wanted is deleted: an HPA or a PDB when the spec no
  longer asks for it, a Deployment when a canary is promoted or rolled back, a canary slot's own
  Service with it (garbage collection removes the rest with the ModelDeployment).
- ReplicaSets and pods of the models are watched (list, watch) to say on the status why a model
  does not serve; they are never written. A rollback of a rolling update reads (get) the
  ReplicaSet whose pod template it restores.
- A canary with rollout.canary.trafficRouting reads the HTTPRoute it names (get) and patches the
  backends and weights of its first rule (patch); nothing else of it.
- Events are core/v1 Events: created, then patched when the same event repeats.
The bodies are plain YAML so that test/unit/chart/ can parse them; test/unit/chart/rbac-rules.ts
lists the same rules.
*/}}
{{- define "modelship.operatorRules" -}}
- apiGroups: ["serving.modelship.dev"]
  resources: ["modeldeployments"]
  verbs: ["list", "watch"]
- apiGroups: ["serving.modelship.dev"]
  resources: ["modeldeployments/status"]
  verbs: ["patch"]
- apiGroups: ["serving.modelship.dev"]
  resources: ["modeldeployments/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/*
Leader election, in the release namespace only. A Lease lock reads and renews one Lease by name and
never lists or watches, so get and update are limited to that name. create cannot be limited by name
(the name is not known when the request is authorized), so it is a rule of its own.
*/}}
{{- define "modelship.leaderElectionRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["create"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  resourceNames: [{{ include "modelship.leaseName" . | quote }}]
  verbs: ["get", "update"]
{{- end }}
