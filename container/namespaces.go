package container

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/errclass"
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
