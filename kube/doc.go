// Package kube maps a compose project to Kubernetes objects: the manifests
// of `berth convert --to kubernetes`, which a user can read, commit and
// apply with kubectl, and which the cluster backend will apply itself.
//
// # Contract
//
// [Convert] takes a loaded project (package project: profiles, selection,
// env_file and interpolation already applied) and returns typed objects of
// k8s.io/api, in an order that applies cleanly: the Namespace, then
// ConfigMaps, Secrets and PersistentVolumeClaims, then Services and
// NetworkPolicies, then the workloads in depends_on order. It does no I/O
// but reading the files a project names (configs, secrets, and bind
// sources under --bind-as-configmap), and it talks to no cluster.
//
// # The cluster backend
//
// [Cluster] is the project operations on a cluster (berth --context): an
// api.Service whose Up converts, applies each object with server-side
// apply (field manager berth) and prunes by label, whose Wait waits for
// the rollouts, and whose Ps (ps's rows: pods, not containers), Logs,
// Exec and Down find what berth made by its labels alone; the other
// operations fail with [Unsupported]. It links client-go's dynamic
// client, REST client, clientcmd and remotecommand, and maps kinds to
// resources from the API server's discovery documents itself: client-go's
// typed clientset and its discovery package (which links every API
// group's types) would cost every berth command megabytes and start-up
// time (TestNoClient).
//
// Logs with Follow watches the project's pods and follows those that
// appear later too (a rollout's, a scale's), each under the next replica
// number of its service, until its context ends. A pod's exec takes a
// command alone: Exec gives it exec's environment and directory by
// running it under env and sh, and refuses a user, privileges and
// detaching, which no wrapping gives.
//
// A cluster pulls its images from registries, so Up refuses a service
// with build: and no image: (the cluster would pull PROJECT-SERVICE,
// which no registry has) before it applies anything. With
// o.Build.Push (up --build --push) it first has [Cluster.Builder] (the
// local engine's Build, given by the CLI: kube does not link the
// engine) build every such image and push it to the registry image:
// names, and converts the project with each of those services' image
// pinned to what was pushed, REF@sha256:DIGEST (api.BuildOptions.Pushed
// reports the digests): a changed build rolls that service out, and an
// unchanged rebuild, which the builder gives the same image, writes
// nothing.
//
// Every compose key a project uses is in one of three states, given by
// [Rules] (docs/kubernetes.md lists them key by key):
//
//   - mapped: it becomes a field of an object, as the table says;
//   - warned: it has no faithful Kubernetes form; the objects are made
//     without it and [Result.Warnings] has one line naming the service and
//     the key, in the words of berth's compose warnings
//     (`service "web": key "ipc" is not supported on Kubernetes and is
//     ignored: ...`);
//   - refused: converting would change what the project means in a way a
//     user must decide on (a bind mount of the host's files, a file too big
//     for a ConfigMap): Convert returns one error, on one line, naming the
//     service and the key, of class errclass.ErrInvalid, and no objects.
//
// No key is dropped in silence: the keys of each service and of the
// top-level networks, volumes, configs and secrets are walked in the
// loaded model's JSON form, and a key no rule names is warned. Some
// mapped keys are warned for some values only (a user name where a uid is
// needed, a host port outside the NodePort range, an unsafe sysctl); the
// mapping code warns for those itself.
//
// # Names and labels
//
// The namespace is the project name unless [Options.Namespace] says
// otherwise. Object names are the compose names made DNS labels (lower
// case, '_' and '.' as '-'); a changed name is warned, since other
// services reach it by that name, and two compose names that become one
// are refused. Every object carries app.kubernetes.io/managed-by: berth,
// app.kubernetes.io/part-of and com.docker.compose.project; objects that
// belong to a service carry app.kubernetes.io/name and
// com.docker.compose.service too, and pods are selected by the two
// com.docker.compose labels, so that the cluster backend finds what it
// made from the labels alone.
//
// # Workloads
//
// A service is a Deployment; a StatefulSet (replicas 1) when it mounts a
// named volume and runs one replica, so that its data follows its one pod;
// a DaemonSet with deploy.mode global; a Job when another service depends
// on it with condition service_completed_successfully. In the manifests
// depends_on is creation order plus the annotation berth.dev/depends-on:
// a cluster has no start order, and an init container that waits would
// need an image the project does not name. The cluster backend's Up keeps
// the conditions by applying a service's workload only once the
// workloads it waits for are ready (service_healthy) or complete
// (service_completed_successfully). Pods of a Deployment always restart,
// so restart: no and on-failure are warned there.
//
// # Reaching services
//
// Every service with ports or expose gets a ClusterIP Service of its own
// name on the target ports, so that service names resolve as in compose;
// each network alias gets one more such Service. Published ports make a
// second Service, <name>-published, of type NodePort (or LoadBalancer,
// [Options.PublishAs]); the published port is the Service's port, and
// under NodePort also its nodePort when it is within 30000-32767 (warned
// and left to the cluster otherwise). Compose networks become
// NetworkPolicies: a pod accepts traffic from the pods that share one of
// its networks (and on its published ports from anywhere), and a pod whose
// networks are all internal sends traffic only to its networks' pods and
// to the cluster's DNS, and publishes nothing, as Docker gives such a
// container no gateway. network_mode none is a policy that allows no
// traffic, network_mode bridge one that lets in only the published ports;
// network_mode service:X puts the pods on X's networks. The test
// cluster enforces no policies, so policy_test.go proves them: an
// evaluator of the NetworkPolicy semantics decides every connection
// between the services, an outside address and the cluster DNS, and
// compares it with what compose allows.
package kube
