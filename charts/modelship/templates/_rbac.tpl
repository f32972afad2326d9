{{/*
The operator's rules, and nothing more: every verb here is one the operator calls, and removing any
one rule makes a named integration test fail. No wildcards; no secrets (the operator names a
credentials Secret in the pods it renders but never reads it). The bodies are plain YAML so that
test/unit/chart/ can parse them; test/unit/chart/rbac-rules.ts lists the same rules.
*/}}
{{- define "modelship.operatorRules" -}}
- apiGroups: ["serving.modelship.dev"]
  resources: ["modeldeployments"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["serving.modelship.dev"]
  resources: ["modeldeployments/status"]
  verbs: ["patch", "update"]
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
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
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
