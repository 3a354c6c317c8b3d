package container

import (
	"os"
	"sync"

	"github.com/berth-dev/berth/runtime"
)

// Runtime is what a Manager asks of the container runtime, which package
// runtime's *Runtime is. Its containers are those the monitors made (see
// package monitor) in the run directory of the Manager's root
// (monitor.RunDir); the Manager never creates or deletes one through it.
//
// The contract: each method acts on the running (or, for Resume, paused)
// container id; one the runtime does not have, because it is not running
// or was never started, is an error of class runtime.ErrNotFound (Exec's
// for one it has that does not run: runtime.ErrState). None of them
// changes the container's state record, which is the Manager's to write
// around the call (pause and unpause do, under the container's lock).
type Runtime interface {
	// Exec starts a process in the container's namespaces and cgroup, as
	// e and stdio say; the caller is its parent and must wait for it.
	// With e.Terminal, the file returned is the PTY's master.
	Exec(id string, e runtime.Exec, stdio runtime.IO) (*runtime.Proc, *os.File, error)
	// Pause freezes every process of the container; Resume thaws them.
	Pause(id string) error
	Resume(id string) error
	// Stats reads the container's resource use now.
	Stats(id string) (runtime.Usage, error)
	// Processes are the host PIDs of every process in the container.
	Processes(id string) ([]int, error)
}

// hostRuntime is package runtime's Runtime for a run directory, opened at
// its first use: opening makes the directory under /run, which a command
// that asks the runtime nothing (ps, inspect, a unit test's Manager) has
// no need to leave behind.
type hostRuntime struct {
	open func() (*runtime.Runtime, error)
}

func newHostRuntime(dir string) hostRuntime {
	return hostRuntime{open: sync.OnceValues(func() (*runtime.Runtime, error) { return runtime.New(dir) })}
}

func (h hostRuntime) Exec(id string, e runtime.Exec, stdio runtime.IO) (*runtime.Proc, *os.File, error) {
	rt, err := h.open()
	if err != nil {
		return nil, nil, err
	}
	return rt.Exec(id, e, stdio)
}

func (h hostRuntime) Pause(id string) error {
	rt, err := h.open()
	if err != nil {
		return err
	}
	return rt.Pause(id)
}

func (h hostRuntime) Resume(id string) error {
	rt, err := h.open()
	if err != nil {
		return err
	}
	return rt.Resume(id)
}

func (h hostRuntime) Stats(id string) (runtime.Usage, error) {
	rt, err := h.open()
	if err != nil {
		return runtime.Usage{}, err
	}
	return rt.Stats(id)
}

func (h hostRuntime) Processes(id string) ([]int, error) {
	rt, err := h.open()
	if err != nil {
		return nil, err
	}
	return rt.Processes(id)
}
