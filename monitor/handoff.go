package monitor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/shim"
)

// handOffAfter is how long a monitor waits for its container to end before
// it hands the waiting over to berth-shim.
const handOffAfter = 50 * time.Millisecond

// dup is a copy of descriptor fd that stays open across exec, for a
// handoff; the original stays its owner's.
func dup(fd int) int {
	d, err := unix.Dup(fd)
	if err != nil {
		return shim.None
	}
	return d
}

// fdOf is a copy of f's descriptor for a handoff, None for no file. The
// copy shares the file's non-blocking mode, which Fd would turn off, so
// the waiting polls it.
func fdOf(f any) int {
	file, ok := f.(*os.File)
	if !ok || file == nil {
		return shim.None
	}
	return socketFd(file)
}

// socketFd is a copy of the descriptor of c (a socket or a file), for a
// handoff, None if it has none.
func socketFd(c any) int {
	fd := shim.None
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			rc.Control(func(f uintptr) { fd = dup(int(f)) })
		}
	}
	return fd
}

// shimBinary finds berth-shim beside the monitor's program, "" if it is
// not there.
func shimBinary(self string) string {
	p := filepath.Join(filepath.Dir(self), "berth-shim")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Flags are the hidden __monitor command's flags: the pipes it
// inherits from the command that starts it (the status pipe always, on
// descriptor 3; with Attached, copies of stdout and stderr on 4 and 5; with
// Stdin, the caller's input on 6), the caller's terminal size
// ("ROWS,COLS"), and, for a monitor exec'd again after its waiting
// process saw the exit, the descriptor of the handoff (else negative).
// Recover is the recovery monitor that a keeper starts after the monitor
// died (see Recover).
type Flags struct {
	Attached, Stdin bool
	TTYSize         string
	Handoff         int
	Recover         bool
}

// Run is the hidden __monitor command, of berth-monitor and berth alike:
// the monitor of container id, started by the command that starts the
// container (with the pipes f names), exec'd again after its waiting
// process saw the exit (f.Handoff), or the recovery monitor (f.Recover).
// remove is how a --rm container is removed at the end.
func Run(ctx context.Context, root, id string, f Flags, remove Remove) error {
	if f.Recover {
		return Recover(ctx, root, id, remove)
	}
	if f.Handoff >= 0 {
		h, err := shim.Read(f.Handoff)
		if err != nil {
			return err
		}
		if h.ID != id {
			return fmt.Errorf("a handoff for container %s, not %s: %w", h.ID, id, record.ErrInvalid)
		}
		return resume(ctx, root, h, remove)
	}
	// inherited without close-on-exec: set it, so that they reach no
	// child (a probe) and no program this one execs but as handed over
	for fd := 3; fd <= 6; fd++ {
		syscall.CloseOnExec(fd)
	}
	mio := pipes{Status: os.NewFile(3, "status")}
	if f.Attached {
		mio.Stdout, mio.Stderr = os.NewFile(4, "stdout"), os.NewFile(5, "stderr")
	}
	if f.Stdin {
		mio.Stdin = os.NewFile(6, "stdin")
	}
	var rows, cols uint16
	if _, err := fmt.Sscanf(f.TTYSize, "%d,%d", &rows, &cols); err == nil {
		mio.Size = &unix.Winsize{Row: rows, Col: cols}
	}
	return start(ctx, root, id, mio, remove)
}
