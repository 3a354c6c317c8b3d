package runtime

import (
	"errors"
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// Exec is a process to run in a running container.
type Exec struct {
	Args []string
	Env  []string
	Cwd  string
	UID  uint32
	GID  uint32
	// Groups are the process's supplementary groups: without them it has
	// none, whatever the container's main process has.
	Groups []uint32
	// Terminal gives the process a pseudo-terminal; Start then returns its
	// master side instead of using the streams.
	Terminal bool
	// Privileged gives the process every capability the host has,
	// whatever the container's (exec --privileged); its seccomp filter
	// stays.
	Privileged bool
}

// Exec starts a process inside the running container id, in its namespaces
// and cgroup and with its capabilities. The caller is the process's parent
// and must Wait for it. With Terminal, the returned file is the PTY master.
func (r *Runtime) Exec(id string, e Exec, stdio IO) (*Proc, *os.File, error) {
	lc, err := libcontainer.Load(r.state, id)
	if err != nil {
		if errors.Is(err, libcontainer.ErrNotExist) {
			return nil, nil, fmt.Errorf("container %s: %w", id, ErrNotFound)
		}
		return nil, nil, err
	}
	if st, err := lc.Status(); err != nil || st != libcontainer.Running {
		return nil, nil, fmt.Errorf("container %s is not running: %w", id, ErrState)
	}
	p := &libcontainer.Process{Args: e.Args, Env: e.Env, Cwd: cwdOr(e.Cwd), UID: int(e.UID), GID: int(e.GID)}
	for _, g := range e.Groups {
		p.AdditionalGroups = append(p.AdditionalGroups, int(g))
	}
	if e.Privileged {
		all := hostCaps()
		p.Capabilities = &configs.Capabilities{Bounding: all, Effective: all, Permitted: all}
	}
	master, err := runProcess(lc, p, stdio, e.Terminal)
	if err != nil {
		return nil, nil, fmt.Errorf("exec in container %s: %w", id, err)
	}
	return &Proc{p: p}, master, nil
}

// runProcess runs p in lc: with its streams, or with a terminal, whose
// master it returns. The terminal is sized before the process starts.
func runProcess(lc *libcontainer.Container, p *libcontainer.Process, stdio IO, terminal bool) (*os.File, error) {
	if !terminal {
		p.Stdin, p.Stdout, p.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
		return nil, startProcess(lc, p)
	}
	p.Stdin, p.Stdout, p.Stderr = nil, nil, nil
	p.ConsoleHeight, p.ConsoleWidth = stdio.Rows, stdio.Cols
	parent, child, err := consoleSocket()
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	defer child.Close()
	p.ConsoleSocket = child
	if err := startProcess(lc, p); err != nil {
		return nil, err
	}
	master, err := recvFile(parent)
	if err != nil {
		p.Signal(unix.SIGKILL)
		p.Wait()
		return nil, fmt.Errorf("receiving its terminal: %w", err)
	}
	return master, nil
}

// consoleSocket is the socket pair over which libcontainer sends the PTY
// master it makes inside the container: the terminal must be created in the
// container's namespaces, devpts included.
func consoleSocket() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "console-parent"), os.NewFile(uintptr(fds[1]), "console-child"), nil
}

// recvFile receives one file descriptor sent with SCM_RIGHTS.
func recvFile(sock *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("expected one control message, got %d: %v", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("expected one file descriptor: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// Pause freezes every process of the container id (cgroup freezer).
func (r *Runtime) Pause(id string) error {
	lc, err := libcontainer.Load(r.state, id)
	if err != nil {
		return fmt.Errorf("container %s: %w", id, ErrNotFound)
	}
	return lc.Pause()
}

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error {
	lc, err := libcontainer.Load(r.state, id)
	if err != nil {
		return fmt.Errorf("container %s: %w", id, ErrNotFound)
	}
	return lc.Resume()
}
