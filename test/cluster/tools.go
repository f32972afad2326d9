//go:build tools

// Package cluster pins the upstream programs that the tests and the demo run: a real
// Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// kubectl), kwok playing the kubelet, helm 3 and 4, metrics-server (the HPA's resource metrics),
// toxiproxy (TCP faults between the operator and the API server), kstatus (./kstatus, on
// sigs.k8s.io/cli-utils) and the Gateway API CRD manifests. Nothing here is linked into the
// operator; build.ts compiles each main package with `go build`.
package cluster

import (
	_ "github.com/Shopify/toxiproxy/v2/cmd/server"
	_ "go.etcd.io/etcd/server/v3"
	_ "helm.sh/helm/v3/cmd/helm"
	_ "helm.sh/helm/v4/cmd/helm"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	_ "sigs.k8s.io/gateway-api/apis/v1"
	_ "sigs.k8s.io/kwok/cmd/kwok"
	_ "sigs.k8s.io/metrics-server/cmd/metrics-server"
)
