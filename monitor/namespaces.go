package monitor

import (
	"fmt"
	"strings"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
)

// joinNamespaces sets, for a start, where the container's PID, IPC and
// UTS namespaces and its /dev/shm come from. Another container's are
// found through its init's /proc entry, so it must be running.
func joinNamespaces(s *record.Store, rec record.Record) (runtime.Spec, error) {
	spec := rec.Spec
	spec.UTSNS = rec.Host.UTSMode
	running := func(flag, id string) (record.Entry, error) {
		owner, err := s.Get(id)
		if err != nil {
			return owner, fmt.Errorf("joining the %s namespace of container %s: %w", flag, id, err)
		}
		if !owner.State.Running() {
			return owner, errclass.New(record.ErrState, "cannot join %s namespace of a non running container: container %s is %s", flag, owner.Record.Name, owner.State.Status)
		}
		return owner, nil
	}
	switch mode := rec.Host.PidMode; {
	case mode == runtime.Host:
		spec.PIDNS = runtime.Host
	case strings.HasPrefix(mode, "container:"):
		owner, err := running("PID", strings.TrimPrefix(mode, "container:"))
		if err != nil {
			return spec, err
		}
		spec.PIDNS = fmt.Sprintf("/proc/%d/ns/pid", owner.State.Pid)
	}
	switch mode := rec.Host.IpcMode; {
	case mode == runtime.Host:
		spec.IPCNS, spec.Shm = runtime.Host, "/dev/shm"
	case mode == "none":
		spec.Shm = runtime.NoShm
	case mode == "shareable":
		spec.Shm = runtime.ShareableShm
	case strings.HasPrefix(mode, "container:"):
		owner, err := running("IPC", strings.TrimPrefix(mode, "container:"))
		if err != nil {
			return spec, err
		}
		// its /dev/shm must be on the host to be shared (Docker's rule)
		if owner.Record.Host.IpcMode != "shareable" {
			return spec, errclass.New(record.ErrInvalid, "cannot join the IPC namespace of container %s: its IPC mode is not shareable (hint: ipc: shareable on it)", owner.Record.Name)
		}
		spec.IPCNS, spec.Shm = fmt.Sprintf("/proc/%d/ns/ipc", owner.State.Pid), runtime.ShmDir(s.Dir(owner.Record.ID))
	}
	return spec, nil
}
