// Command berth-shim is a container's monitor while it waits (package
// shim): the monitor execs it once the container runs, and it execs the
// monitor again at the exit. A small program of its own, so that a running
// container's monitor keeps only its pages mapped. Its command line names
// the container as the monitor's does: --root ROOT __monitor ID
// --handoff=FD.
package main
