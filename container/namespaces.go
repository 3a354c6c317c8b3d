package container

import (
	"context"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
)

// Namespaces are how a container shares its PID, IPC and UTS namespaces,
// in Docker's words (--pid, --ipc, --uts). PID and IPC are their own
// (Mode ""), the host's, or another container's (Container); IPC also
// takes "private", "shareable" (a namespace of its own that others may
// join, with a /dev/shm made on the host for them to share: only such a
// one can be joined, as in Docker) and "none" (its own, without /dev/shm).
// UTS is "" or "host".
type Namespaces struct {
	PID, IPC NamespaceMode
	UTS      string
}

// resolveNamespaces names other containers by ID, as the record keeps
// them (HostConfig.PidMode and IpcMode, container:ID); Validate has
// checked the modes.
func (m *Manager) resolveNamespaces(ctx context.Context, n Namespaces) (pid, ipc string, err error) {
	join := func(flag string, mode NamespaceMode) (string, error) {
		if mode.Container == "" {
			return mode.Mode, nil
		}
		owner, err := m.Get(ctx, mode.Container)
		if err != nil {
			return "", errclass.Wrap(ErrInvalid, err, fmt.Sprintf("%s container:%s: %v", flag, mode.Container, err))
		}
		return "container:" + owner.Record.ID, nil
	}
	if pid, err = join("--pid", n.PID); err != nil {
		return "", "", err
	}
	if ipc, err = join("--ipc", n.IPC); err != nil {
		return "", "", err
	}
	return pid, ipc, nil
}

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
			return owner, errclass.New(ErrState, "cannot join %s namespace of a non running container: container %s is %s", flag, owner.Record.Name, owner.State.Status)
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
			return spec, errclass.New(ErrInvalid, "cannot join the IPC namespace of container %s: its IPC mode is not shareable (hint: ipc: shareable on it)", owner.Record.Name)
		}
		spec.IPCNS, spec.Shm = fmt.Sprintf("/proc/%d/ns/ipc", owner.State.Pid), runtime.ShmDir(s.Dir(owner.Record.ID))
	}
	return spec, nil
}
