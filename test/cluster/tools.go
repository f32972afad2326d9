//go:build tools

// Package cluster pins the upstream programs that the tests and the demo run: a real
// Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// kubectl), kwok playing the kubelet, and helm 3 and 4. Nothing here is linked into the
// operator; build.mjs compiles each main package with `go build`.
package cluster

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "helm.sh/helm/v3/cmd/helm"
	_ "helm.sh/helm/v4/cmd/helm"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
