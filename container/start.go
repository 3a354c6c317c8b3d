package container

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
)

// Attach connects the caller to a started container: its output, its exit
// and, with Stdin, its input.
type Attach struct {
	Stdout, Stderr io.Writer
	// Stdin, when not nil, is copied to the container (-i).
	Stdin io.Reader
	// Terminal is the caller's terminal when the container has a TTY: it
	// is put in raw mode while attached, and its size is the container's.
	Terminal *os.File
}

// AttachFor is what of the caller's streams attaches to the container
// made as rec, as -i and -t ask: the output always, stdin when the
// container keeps it open, the terminal when it has a TTY.
func AttachFor(s proc.Streams, rec *record.Record) *Attach {
	a := &Attach{Stdout: s.Stdout, Stderr: s.Stderr}
	if rec.Config.OpenStdin {
		a.Stdin = s.Stdin
	}
	if rec.Config.Tty {
		a.Terminal = s.Terminal
	}
	return a
}

// Start runs the container's monitor and returns once the process runs,
// or, attached, once it has exited, with its exit code. A process that
// could not start gives Docker's 125, 126 or 127 and the reason.
func (m *Manager) Start(ctx context.Context, ref string, attach *Attach) (int, error) {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	if e.State.Running() {
		if attach == nil {
			return 0, nil // docker start of a running container is a no-op
		}
		return 0, errclass.New(ErrState, "container %s is already running", e.Record.Name)
	}
	if e.State.Status != record.Restarting && !monitor.Of(e.State, e.Record.ID) && keeperOf(e.State) {
		// another start's keeper, whose monitor has not started the
		// container yet (that start's command may have been killed
		// meanwhile): its outcome first, or two monitors would race
		if st, ok := m.awaitStart(ctx, e.Record.ID, e.State); ok && st.Running() {
			if attach == nil {
				return 0, nil
			}
			return 0, errclass.New(ErrState, "container %s is already running", e.Record.Name)
		}
		if e, err = m.Get(ctx, ref); err != nil {
			return 0, err
		}
	}
	if e.State.Status != record.Restarting && monitor.Of(e.State, e.Record.ID) {
		// the last run's monitor is still cleaning up after its exit: a
		// new one would find that run's runtime container still there
		if err := monitor.WaitProcess(ctx, e.State.MonitorPid, -1); err != nil {
			return 0, err
		}
	}
	// what the last run left, if its monitor could not clean up (a down
	// halted it and did not remove it, or the monitor could not exec)
	if _, err := os.Stat(filepath.Join(monitor.RunDir(m.root), e.Record.ID)); err == nil {
		monitor.CleanRuntime(m.root, m.Store, e.Record.ID)
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer statusR.Close()
	// the keeper (package keeper) runs the monitor as its child, once it
	// has the go-ahead on its descriptor 3: first it is moved out of this
	// command's cgroup, so that nothing it starts is in it
	goR, goW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer goW.Close()
	keeper, kargs := keeperBinary(self)
	args := append(kargs, monitorBinary(self), "--root", m.root, "__monitor", e.Record.ID)
	extra := []*os.File{goR, statusW}
	var outR, errR *os.File
	if attach != nil {
		var outW, errW *os.File
		if outR, outW, err = os.Pipe(); err != nil {
			return 0, err
		}
		if errR, errW, err = os.Pipe(); err != nil {
			return 0, err
		}
		extra = append(extra, outW, errW)
		args = append(args, "--attached")
		defer outR.Close()
		defer errR.Close()
		if attach.Stdin != nil {
			inR, inW, err := os.Pipe()
			if err != nil {
				return 0, err
			}
			extra = append(extra, inR)
			args = append(args, "--stdin")
			go func() { io.Copy(inW, attach.Stdin); inW.Close() }()
		}
		if t := attach.Terminal; t != nil && term.IsTerminal(int(t.Fd())) {
			if ws, err := unix.IoctlGetWinsize(int(t.Fd()), unix.TIOCGWINSZ); err == nil {
				args = append(args, fmt.Sprintf("--tty-size=%d,%d", ws.Row, ws.Col))
			}
			if old, err := term.MakeRaw(int(t.Fd())); err == nil {
				defer term.Restore(int(t.Fd()), old)
			}
		}
	}
	cmd := exec.Command(keeper, args...)
	cmd.ExtraFiles = extra
	// its own session: the container outlives this command and a Ctrl-C
	// sent to the terminal's process group
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting the monitor of %s: %w", e.Record.Name, err)
	}
	for _, f := range extra {
		f.Close()
	}
	go cmd.Wait() // reaped here if this command outlives it
	// a start undoes a stop: the restart policy applies again. The
	// keeper is recorded before it may go on, so that a start that comes
	// while it starts the container waits for it (see above)
	kstart, _ := runtime.StartTime(cmd.Process.Pid)
	if _, err := m.Store.Update(ctx, e.Record.ID, func(st *record.State) error {
		st.StopRequested, st.Halted, st.Signals, st.Stopped = false, false, nil, false
		st.Keeper, st.KeeperStart = cmd.Process.Pid, kstart
		return nil
	}); err != nil {
		return 0, err // the keeper ends without its go-ahead
	}
	crash.Point("start-keeper")
	// out of this command's cgroup before the keeper starts anything. A
	// keeper that cannot be moved (no cgroup hierarchy writable here, as
	// in an unprivileged container) still runs the monitor: the container
	// runs, only not beyond this command's cgroup.
	runtime.PlaceMonitor(ctx, cmd.Process.Pid, e.Record.ID)
	if _, err := goW.Write([]byte{1}); err != nil {
		return 0, fmt.Errorf("starting the monitor of %s: %w", e.Record.Name, err)
	}
	goW.Close()
	crash.Point("start-go") // the monitor starts the container on its own
	copied := make(chan struct{}, 2)
	if attach != nil {
		go func() { io.Copy(attach.Stdout, outR); copied <- struct{}{} }()
		go func() { io.Copy(attach.Stderr, errR); copied <- struct{}{} }()
	}
	lines := bufio.NewScanner(statusR)
	first, err := monitor.ReadReport(lines)
	switch {
	case err == io.EOF:
		return ExitStartFailed, fmt.Errorf("the monitor of %s ended without starting it", e.Record.Name)
	case err != nil:
		return ExitStartFailed, fmt.Errorf("starting %s: %w", e.Record.Name, err)
	case first.Kind == monitor.ReportFailed:
		return first.Code, fmt.Errorf("failed to start container %s: %s", e.Record.Name, first.Error)
	case first.Kind != monitor.ReportStarted:
		return ExitStartFailed, fmt.Errorf("starting %s: the monitor said %q before the start", e.Record.Name, first.Kind)
	}
	if attach == nil {
		return 0, nil
	}
	<-copied
	<-copied
	for {
		st, err := monitor.ReadReport(lines)
		switch {
		case err == io.EOF:
			return ExitStartFailed, fmt.Errorf("the monitor of %s ended without reporting an exit", e.Record.Name)
		case err != nil:
			return ExitStartFailed, fmt.Errorf("waiting for %s: %w", e.Record.Name, err)
		case st.Kind == monitor.ReportExited:
			return st.Code, nil
		}
	}
}
