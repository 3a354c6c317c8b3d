// Package container is berth's client of its containers: it creates,
// starts, stops, removes and inspects them (Manager), and holds the monitor
// process that runs each one, and their logs.
//
// Records, states and the state machine are package record's: this
// package changes them through record.Store, as every other process does.
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
