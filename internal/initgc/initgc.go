// Package initgc keeps Go's garbage collector off while the program's
// packages initialise, and Done turns it back on. berth links compose-go's
// JSON schema compiler and Kubernetes' API types, whose package init
// functions allocate a few megabytes; with the collector on, its cycles
// during them cost every berth command about 2 ms of its start
// (GODEBUG=inittrace=1 berth version, docs/benchmarks.md), for garbage that
// is mostly still live when main runs.
//
// Go initialises a package once everything it imports is, the first in
// import path order among those ready. This one imports only runtime/debug,
// so it runs before every package of the module's dependencies that sorts
// after it (compose-go's jsonschema, k8s.io/...): the command imports it
// first and calls Done in its own init, which runs after every package's.
package initgc

import "runtime/debug"

var percent = debug.SetGCPercent(-1)

// Done gives the collector back the setting it had (GOGC, 100 by default).
func Done() { debug.SetGCPercent(percent) }
