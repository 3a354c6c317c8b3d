// Command berth-keeper is the parent of a container's monitor, which
// berth starts instead of the monitor itself (package keeper): it runs the
// monitor and, should the monitor die by a signal, a recovery monitor. A
// small static program of its own, one per running container, so it
// imports nothing but package keeper (not even os). Its command line:
// __keeper MONITOR --root ROOT __monitor ID [FLAGS...].
package main
