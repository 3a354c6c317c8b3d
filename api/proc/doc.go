// Package proc holds the options and results of what a caller does to
// the processes and files of one running container: exec, attach, logs,
// top, stats and cp, with the caller's streams. api.Service passes them
// through to a service's container, and package container takes them
// for a container by name.
//
// They are a leaf of their own rather than part of api so that package
// container can take them without linking what api's Service names (the
// compose loader): container is in berth-monitor, which is also every
// container's init, whose memory that would grow.
package proc
