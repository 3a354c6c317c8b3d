// Package spec is what the runtime is asked to run: a container's [Spec]
// (root filesystem, first process, capabilities, namespaces, limits) as
// plain data, with the checks Docker makes of it ([Resources.Check]) and
// its cgroup's path.
//
// It is apart from package runtime, which turns a Spec into an OCI spec and
// runs it with libcontainer, so that a container's record (package record),
// which keeps the Spec it was created with, can be read and written by
// programs that must not link libcontainer: the monitor's waiting program
// (cmd/berth-shim) above all. Package runtime names these types as its own
// (runtime.Spec is spec.Spec).
package spec
