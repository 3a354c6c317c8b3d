// Package container keeps berth's containers: their records on disk, their
// lifecycle as an explicit state machine, the monitor process that runs each
// one, and their logs.
//
// Layout: <root>/containers/<id>/ holds config.json (the Record: what the
// container is, fixed at creation), state.json (the State: what it is doing),
// <id>-json.log (its output in Docker's json-file format) and the overlay's
// upper and work directories. Files are written to a temporary name and
// renamed; a lock file per container serialises changes.
//
// Lifecycle (see state.go): created -> running -> exited, exited -> running
// again on start or restart, running <-> paused, and any state -> removing on
// removal. A transition not in the table is an error (ErrState), which is how
// "cannot exec into a stopped container" and "cannot remove a running
// container without -f" are enforced in one place.
//
// Process model: no daemon. Starting a container spawns a monitor, a hidden
// "berth __monitor <id>" process in its own session, which becomes the
// parent of the container's init: it drains stdout and stderr into the log,
// waits for the exit, records it, and removes the runtime's container so that
// no mount or cgroup outlives it. The command that started it reads one line
// from a pipe the monitor inherits: "ok" once the process runs, or the error
// that kept it from running. While the container runs, the monitor waits as
// berth-shim (package shim), a small program it execs with a handoff
// (handoff.go) and that execs it back at the exit (Resume, exit.go).
package container
