// Package shim is a container's monitor while it waits: the part of the
// monitor that runs from the container's start to its exit, in a small
// program of its own (cmd/berth-shim).
//
// Why: a process's resident memory counts every page of its program that
// it has touched, and the kernel maps the page cache's large folios whole.
// The monitor proper (package monitor) links libcontainer, netlink and
// nftables to start a container: 14 MB of program, of which it keeps over
// 10 MB mapped for good, for the container's whole life, although waiting
// needs none of it. So once the container runs (and has not ended within
// its first moments), the monitor execs this small program instead (the
// same process: it stays the parent of the container's init, and keeps the
// descriptors it hands over), which waits, and at the exit execs the
// monitor again to clean up and apply the restart policy. A monitor without
// berth-shim beside it runs the same Wait itself.
//
// Lifecycle and vocabulary:
//
//   - A [Handoff] is everything the waiting needs: the init's PID, the
//     output streams and where they go (the log, an attached caller, the
//     attach hub), the input, the DNS resolver's sockets, the health probe
//     to run, descriptors to hold (published ports), and what to exec at the
//     exit (Resume). Descriptors travel by number across exec; the handoff
//     itself travels in a memfd ([Exec], [Read]).
//   - [Wait] serves all that until the init exits, records the exit in the
//     container's state ([RecordExit]) and returns its exit code, as a shell
//     reports it (128 plus the signal's number when one killed it), also
//     set in the handoff; the waiting program then execs Resume with it,
//     unless a down halted the container: that down removes the container
//     next and cleans up after it, so the program reports the exit on the
//     status pipe and ends.
//   - A health probe runs as a child process (Probe.Argv, the monitor's
//     program) which probes once, records the result and prints the wait
//     before the next one: the code that enters a container stays out of
//     the waiting process.
//
// The package links nothing heavier than the standard library, the log and
// attach packages and the DNS resolver.
package shim
