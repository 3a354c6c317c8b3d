// Package k8s holds the tests that run against a real single-node
// Kubernetes cluster on this machine: scripts/k8s-test-cluster.sh builds it
// once into a cache outside the repository, and each test starts a fresh
// one on loopback and removes it at the end (startCluster). Without root
// or the cache they skip; BERTH_TEST_K8S=1 builds the cache and makes a
// missing piece a failure. docs/kubernetes.md says what the host needs.
package k8s
