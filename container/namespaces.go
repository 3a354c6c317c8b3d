package container

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/runtime"
)

// Namespaces are how a container shares its PID, IPC and UTS namespaces,
// in Docker's words (--pid, --ipc, --uts). Each is empty for a namespace
// of its own, "host" for the host's, or "container:NAME" for another
// container's (PID and IPC); IPC also takes "private", "shareable" (a
// namespace of its own that others may join, with a /dev/shm made on the
// host for them to share: only such a one can be joined, as in Docker)
// and "none" (its own, without /dev/shm).
type Namespaces struct {
	PID, IPC, UTS string
}

// resolveNamespaces checks the modes and names other containers by ID, as
// they are kept in the record (HostConfig.PidMode and IpcMode).
func (m *Manager) resolveNamespaces(ctx context.Context, n Namespaces) (Namespaces, error) {
	join := func(flag, mode string, own ...string) (string, error) {
		if mode == "" || mode == runtime.Host || slices.Contains(own, mode) {
			return mode, nil
		}
		name, ok := strings.CutPrefix(mode, "container:")
		if !ok || name == "" {
			return "", errclass.New(ErrInvalid, "invalid %s mode %q: want %s", flag, mode, strings.Join(append(own, "host", "container:NAME"), ", "))
		}
		owner, err := m.Get(ctx, name)
		if err != nil {
			return "", errclass.Wrap(ErrInvalid, err, fmt.Sprintf("%s container:%s: %v", flag, name, err))
		}
		return "container:" + owner.Record.ID, nil
	}
	var err error
	if n.PID, err = join("--pid", n.PID); err != nil {
		return n, err
	}
	if n.IPC, err = join("--ipc", n.IPC, "private", "shareable", "none"); err != nil {
		return n, err
	}
	if n.UTS != "" && n.UTS != runtime.Host {
		return n, errclass.New(ErrInvalid, "invalid --uts mode %q: want host", n.UTS)
	}
	return n, nil
}
