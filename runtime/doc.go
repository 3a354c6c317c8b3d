// Package runtime runs containers with runc's libcontainer. It is the only
// package that imports libcontainer, and the only one that mounts a
// container's root filesystem or enters its namespaces.
//
// Vocabulary and lifecycle:
//
//   - A [Spec] says what a container is: its root filesystem (an overlay of
//     image snapshots and a writable upper directory), its first process,
//     hostname, capabilities, mounts and limits. It becomes an OCI runtime
//     spec with Docker's defaults where the user said nothing (the 14
//     default capabilities, the masked and read-only /proc and /sys paths,
//     the default device rules, namespaces pid, net, ipc, uts, mnt and
//     cgroup, no user namespace), and runc's specconv turns that into a
//     libcontainer config, so berth does not restate runc's conversion.
//   - [Runtime.Create] mounts the overlay of the image's snapshots at
//     <bundle>/rootfs and creates the container (namespaces and cgroup set
//     up, nothing running: "created"); on failure nothing is left.
//     [Container.Start] runs the first process; the caller becomes its
//     parent and must Wait for it (in berth, the container's monitor does).
//     [Container.Signal] delivers a signal to it; once it has exited the
//     container is "stopped"; [Container.Delete] kills what is left and
//     removes the cgroup, the libcontainer state and the rootfs and
//     /dev/shm mounts. Delete is idempotent, and [UnmountBundle] undoes the
//     mounts even when libcontainer's state is already gone, so a failed
//     Create or a killed caller can always be cleaned up.
//   - [Runtime.Exec], Pause, Resume, Stats and Processes act on a running
//     container by its ID.
//
// libcontainer's state lives under the directory [New] is given, in berth
// /run/berth/<hash of the state root>/runc: tmpfs, since containers do not
// survive a reboot (`berth system boot` starts them again), and one
// directory per state root so that test roots never mix. Containers started
// without --ulimit inherit berth's rlimits, as Docker's inherit dockerd's.
//
// The binaries that start containers must call [Init] first thing when they
// are re-executed as "init": libcontainer starts each container by running
// its own binary that way inside the new namespaces (the nsenter package,
// imported here, does the C part before the Go runtime starts threads,
// which setns(2) and unshare(2) require).
//
// # Shared namespaces and /dev/shm
//
// Spec.PIDNS, IPCNS and UTSNS (--pid, --ipc, --uts; compose's pid, ipc,
// uts) are empty for a namespace of the container's own, "host" to leave the
// namespace out (the host's is then the container's), or a /proc/PID/ns/…
// path to join, which the caller resolves at each start from the other
// container's running init. IPC is two things: System V objects live in the
// namespace, POSIX shared memory in /dev/shm files. So an `ipc: shareable`
// container gets its /dev/shm as a tmpfs made on the host ([ShmDir],
// unmounted by Delete) and bound in, and a container joining its IPC
// namespace binds the same directory; `ipc: host` binds the host's
// /dev/shm, `ipc: none` has none. As in Docker, only a shareable
// container's IPC can be joined. --cgroup-parent puts the container's
// cgroup under another than /berth ([Spec.Cgroup], which the OOM check and
// the freezer read too); --cgroupns host leaves the cgroup namespace out.
// Spec.NetNS names a network namespace made beforehand (package netns), so
// that the container's first instruction already has its network.
//
// # Limits
//
// [Resources.Check] is the one range check of limits, made alike for
// `container create`'s flags, compose's keys (checked for each service
// before anything is made) and at container creation: what Docker's daemon
// refuses is refused in its words (a CPU count outside 0.01 to the host's
// CPUs, so `cpus: -1` too; memory or a reservation under 6 MB; a CFS period
// outside 1 ms to 1 s; CPU shares outside 2 to 262144; swappiness outside
// 0-100; an OOM score outside ±1000; --cpus with a quota or period). Limits
// are signed, as Docker's are, so a negative value reaches the check
// rather than wrapping into a huge one. Block I/O weights and throttles
// (--blkio-weight, --device-read-bps and the rest; compose's blkio_config)
// name host devices by path; Check turns them into device numbers and
// refuses what is not a block device. Device cgroup rules
// (--device-cgroup-rule) are read by [ParseDeviceRule], which has a fuzz
// test.
//
// [Resources.Adapt] does what Docker's daemon does to a container's limits
// before it makes it, so that the record (and inspect) says what the
// container really gets: a memory limit without a swap setting gets
// memory+swap twice the memory (without it the kernel lets the container
// swap without end once at its limit), and settings the host's cgroups
// cannot enforce are dropped with Docker's warning texts (on cgroup v2
// --memory-swappiness and --oom-kill-disable; memory+swap without swap
// accounting) or refused as Docker refuses them (real-time CPU time, which
// v2 has no controller for). --cpus is kept as NanoCPUs until Adapt turns it
// into a quota per 100 ms period.
//
// --privileged gets every capability in berth's own bounding set, writable
// /sys and /sys/fs/cgroup, as in Docker (systemd or a container engine
// inside makes cgroups under the container's own; the cgroup namespace
// still roots the mount there), and every device node under the host's
// /dev but the console and those of the pts, shm and mqueue file systems
// every container has its own of.
//
// # Seccomp
//
// Containers get Docker's default profile unless --privileged or
// --security-opt seccomp=unconfined; --security-opt seccomp=FILE takes a
// profile in Docker's JSON format instead ([CheckSeccompProfile] checks one
// before anything is made). The profile comes from
// github.com/moby/profiles/seccomp, the module Docker itself builds its
// default from, so berth's allowlist is Docker's call for call rather than
// a copy that drifts. It is resolved per container (seccomp.go): groups of
// calls come with the capabilities in the bounding set (mount, unshare,
// setns and namespace-creating clone flags with CAP_SYS_ADMIN, ...) and
// with the kernel's version. Enforcement needs the binary built with
// -tags seccomp against libseccomp (the Makefile does); [SeccompSupported]
// says whether it was, and `container run` and `create` warn when not
// (unless the container is privileged or unconfined anyway).
//
// # Placing the monitors
//
// [PlaceMonitor] moves a container's keeper out of the cgroup of whatever
// started it (a systemd unit, a login session), so that a unit's stop, a
// logout or cgroup.kill leaves the monitor and its container running: into
// a transient scope in berth.slice through systemd's D-Bus API where
// systemd is PID 1 (a process placed behind systemd's back would be moved
// again by systemd), falling back to cgroupfs when the bus does not answer;
// else into /berth/monitors in every hierarchy listed in
// /proc/self/mountinfo, a leaf beside the containers' /berth/<id> since
// cgroup v2 forbids processes in /berth itself, each level of a v1 cpuset
// given its parent's processors and memory nodes first.
//
// # Traps
//
// runc 1.2+ opens mount sources on a locked thread that joins the
// container's mount namespace and is meant to exit; when Go ran that
// goroutine on the main thread it cannot end it, so /proc/self/* (the main
// thread) of a process that started a container may show the container's
// namespaces for good. Code that runs after a container start in the same
// process reads /proc/thread-self, as the tests do.
//
// A start that fails part-way can leave runc's later stages as unreaped
// children, and one zombie in a PID namespace keeps its init from ever
// being waitable; reap.go says how starts reap them.
package runtime
