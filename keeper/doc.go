// Package keeper is the process that outlives a container's monitor: the
// parent the command that starts a container spawns (cmd/berth-keeper, or
// the hidden __keeper of berth-monitor or berth where that program is
// missing), which runs the monitor as its child and starts a recovery
// monitor when the monitor dies by a signal (SIGKILL, the OOM killer), as
// containerd recovers a container whose shim died.
//
// Why a process of its own: nothing else can learn of a monitor's death at
// once, since berth has no daemon, and a parent is told of its child's
// death by the kernel, with no polling. The keeper is a child subreaper
// (PR_SET_CHILD_SUBREAPER), so the orphans of a dead monitor, the
// container's init first, become its children and are reaped by it, and
// the recovery monitor it starts (`__monitor ID --recover`) finds the
// container as the dead monitor left it: it kills the init, records the
// exit (137, as Docker does when a shim dies), cleans up and applies the
// restart policy. A recovery that itself dies at once waits longer each
// time, as a restart policy backs off. A parent-death signal on the init
// cannot stand in for the keeper: the kernel sends it when the parent
// *thread* ends, and the monitor's exec into the shim ends every thread
// but one, so the container would die at the handoff.
//
// Lifecycle ([Main] has the command line): the starting command spawns the
// keeper in a new session, moves it into berth's own cgroup
// (runtime.PlaceMonitor) and only then writes the byte the keeper waits for
// on descriptor 3, so that the monitor and the container inherit nothing of
// the caller's cgroup. The keeper then runs the monitor with the command's
// pipes (status, attached output and input) as its descriptors 3 and up,
// keeping no copy, so an attached caller still hears the end of a monitor
// that died; it names itself in BERTH_KEEPER, which the monitor records in
// the container's state. The process tree of a running container is keeper
// → monitor (waiting as berth-shim) → the container's init. When the
// monitor ends by itself the keeper ends. A killed keeper leaves its
// monitor running, supervised as before but unguarded.
//
// It links only package syscall (it reads its command line from
// /proc/self/cmdline: package os would double the program's size): one
// keeper runs per running container, and each must cost as little memory
// as a process can.
package keeper
