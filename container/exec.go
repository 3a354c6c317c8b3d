package container

import (
	"cmp"
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
)

// Exec runs a command in a running container and returns its exit code
// (0 at once with Detach).
func (m *Manager) Exec(ctx context.Context, ref string, o proc.ExecOptions) (int, error) {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	switch {
	case e.State.Status == record.Paused:
		return 0, errclass.New(ErrState, "container %s is paused, unpause the container before exec", e.Record.ID)
	case !e.State.Running():
		return 0, errclass.New(ErrState, "container %s is not running", e.Record.ID)
	}
	// without -u, the main process's own user and groups, as Docker's exec
	main := e.Record.Spec.Process
	uid, gid, groups := main.UID, main.GID, main.AdditionalGIDs
	if o.User != "" {
		if uid, gid, groups, err = processUser(e.Record.Spec.Rootfs.Lowers, o.User, e.Record.Host.GroupAdd); err != nil {
			return ExitNotExecutable, err // Docker's exec: the command cannot be run
		}
	}
	env := append(append([]string{}, e.Record.Config.Env...), o.Env...)
	if o.TTY {
		env = append(env, "TERM=xterm")
	}
	spec := runtime.Exec{Args: o.Cmd, Env: env, Cwd: cmp.Or(o.WorkDir, e.Record.Config.WorkingDir), UID: uid, GID: gid, Groups: groups, Terminal: o.TTY, Privileged: o.Privileged}
	var stdio runtime.IO
	if !o.Detach {
		stdio = runtime.IO{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr}
	}
	if o.Terminal != nil {
		if ws, err := unix.IoctlGetWinsize(int(o.Terminal.Fd()), unix.TIOCGWINSZ); err == nil {
			stdio.Rows, stdio.Cols = ws.Row, ws.Col
		}
	}
	p, master, err := m.rt.Exec(e.Record.ID, spec, stdio)
	if err != nil {
		return execExitCode(err), err
	}
	if o.Detach {
		if master != nil {
			master.Close()
		}
		return 0, nil
	}
	if master != nil {
		defer master.Close()
		restore := connectTerminal(master, o.Terminal, o.Stdin, o.Stdout)
		defer restore()
	}
	return p.Wait()
}

// execExitCode is Docker's exit code for a command exec could not run:
// 127 when the command is not there, 126 for every other reason (a
// directory, no permission, a working directory that does not exist).
func execExitCode(err error) int {
	msg := err.Error()
	if strings.Contains(msg, "executable file not found") ||
		strings.Contains(msg, "exec: ") && strings.Contains(msg, "no such file or directory") && !strings.Contains(msg, "chdir") {
		return ExitNotFound
	}
	return ExitNotExecutable
}

// connectTerminal joins the caller's terminal to the process's PTY: raw
// mode while it runs, the window size passed on now and on every SIGWINCH.
func connectTerminal(master, terminal *os.File, stdin io.Reader, stdout io.Writer) func() {
	restore := func() {}
	if f := terminal; f != nil && term.IsTerminal(int(f.Fd())) {
		if old, err := term.MakeRaw(int(f.Fd())); err == nil {
			restore = func() { term.Restore(int(f.Fd()), old) }
		}
		resize := func() {
			if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
				unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
			}
		}
		resize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		go func() {
			for range winch {
				resize()
			}
		}()
		prev := restore
		restore = func() { signal.Stop(winch); close(winch); prev() }
	}
	if stdin != nil {
		go io.Copy(master, stdin)
	}
	done := make(chan struct{})
	go func() {
		// reading the master ends with EIO once the process has exited
		io.Copy(stdout, master)
		close(done)
	}()
	return func() {
		<-done
		restore()
	}
}

// Pause freezes a running container's processes.
func (m *Manager) Pause(ctx context.Context, ref string) error {
	return m.freeze(ctx, ref, true)
}

// Unpause thaws them.
func (m *Manager) Unpause(ctx context.Context, ref string) error {
	return m.freeze(ctx, ref, false)
}

func (m *Manager) freeze(ctx context.Context, ref string, pause bool) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	_, err = m.Store.Update(ctx, e.Record.ID, func(st *record.State) error {
		if pause {
			if st.Status == record.Paused {
				return errclass.New(ErrState, "container %s is already paused", e.Record.ID)
			}
			if st.Status != record.Running {
				return errclass.New(ErrState, "container %s is not running", e.Record.ID)
			}
			if err := m.rt.Pause(e.Record.ID); err != nil {
				return err
			}
			return st.To(record.Paused)
		}
		if st.Status != record.Paused {
			return errclass.New(ErrState, "container %s is not paused", e.Record.ID)
		}
		if err := m.rt.Resume(e.Record.ID); err != nil {
			return err
		}
		return st.To(record.Running)
	})
	if errors.Is(err, runtime.ErrNotFound) {
		return errclass.New(ErrState, "container %s is not running", e.Record.ID)
	}
	return err
}
