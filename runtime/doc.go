// Package runtime runs containers with runc's libcontainer. It is the only
// package that imports libcontainer, and the only one that mounts a
// container's root filesystem or enters its namespaces.
//
// Vocabulary and lifecycle:
//
//   - A [Spec] says what a container is: its root filesystem (an overlay of
//     image snapshots and a writable upper directory), its first process,
//     hostname, capabilities and limits. Spec carries Docker's defaults where
//     the user said nothing: the 14 default capabilities, the masked and
//     read-only /proc and /sys paths, the default device rules, and namespaces
//     pid, net, ipc, uts, mnt and cgroup (no user namespace, as in Docker).
//   - [Runtime.Create] mounts the root filesystem and creates the container
//     (namespaces and cgroup set up, nothing running: "created").
//     [Container.Start] runs the first process; the caller becomes its parent
//     and must Wait for it (in berth, the container's monitor does).
//     [Container.Signal] delivers a signal to it; once it has exited the
//     container is "stopped"; [Container.Delete] removes the cgroup, the
//     libcontainer state and the rootfs mount. Delete is idempotent, so a
//     failed Create or a crashed caller can always be cleaned up.
//
// The berth binary must call [Init] first thing when it is re-executed as
// "berth init": libcontainer starts each container by running its own binary
// that way inside the new namespaces (the nsenter package, imported here,
// does the C part before the Go runtime starts).
package runtime
