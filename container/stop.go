package container

import (
	"cmp"
	"context"
	"errors"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
)

// Stop sends the container its stop signal and, after timeout (the
// container's own when negative), SIGKILL; it returns once it has exited
// and its monitor has cleaned up after it.
func (m *Manager) Stop(ctx context.Context, ref string, timeout time.Duration, sig string) error {
	_, err := m.stop(ctx, ref, timeout, sig, stopByUser)
	return err
}

// stopMode says who stops a container, which decides what is recorded.
type stopMode int

const (
	stopByUser   stopMode = iota // stop, restart: a stop event follows the die
	stopToRemove                 // rm -f: kill and die only, as Docker logs it
	stopToHalt                   // down: Halt, then a removal
)

// Halt is Stop returning as soon as the container's exit is recorded and
// it is off its networks, while its monitor still cleans up after it
// (unmounts its root, tens of milliseconds): work that needs only nothing
// to run any more, such as removing the networks it was on, can overlap
// that. Remove waits for the monitor.
func (m *Manager) Halt(ctx context.Context, ref string, timeout time.Duration, sig string) error {
	id, err := m.stop(ctx, ref, timeout, sig, stopToHalt)
	if err != nil {
		return err
	}
	// off its networks now, if its monitor has not got there yet: the
	// networks are what comes next
	return monitor.LeaveAfterExit(ctx, m.root, m.Store, id)
}

// stop is Stop, Halt and rm -f's stop, as mode says; it returns the
// container's ID.
func (m *Manager) stop(ctx context.Context, ref string, timeout time.Duration, sig string, mode stopMode) (string, error) {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return "", err
	}
	id := e.Record.ID
	halt := mode == stopToHalt
	wait := m.waitGone
	if halt {
		wait = m.waitExited
	}
	signal, err := ParseSignal(cmp.Or(sig, cmp.Or(e.Record.Config.StopSignal, "SIGTERM")))
	if err != nil {
		return id, err
	}
	st, err := m.Store.Update(ctx, id, func(st *record.State) error {
		st.StopRequested, st.Halted = true, halt
		if st.Running() {
			st.Signals = append(st.Signals, int(signal))
			st.Stopped = mode != stopToRemove
		}
		return nil
	})
	if err != nil {
		return id, err
	}
	if st.Status == record.Restarting && monitor.Of(st, id) {
		unix.Kill(st.MonitorPid, unix.SIGUSR1)
	}
	if !st.Running() {
		return id, wait(ctx, id, st, -1)
	}
	if timeout < 0 {
		timeout = time.Duration(e.Record.Host.StopTimeout) * time.Second
	}
	if st.Status == record.Paused {
		monitor.Thaw(e.Record.Spec)
	}
	unix.Kill(st.Pid, signal)
	if err := wait(ctx, id, st, timeout); err == nil {
		return id, nil
	}
	// killed whether or not the signal is recorded: the grace period is over
	_, serr := m.Store.Update(ctx, id, func(st *record.State) error {
		st.Signals = append(st.Signals, int(unix.SIGKILL))
		return nil
	})
	if errors.Is(serr, ErrNotFound) {
		serr = nil // exited and removed (--rm) meanwhile
	}
	unix.Kill(st.Pid, unix.SIGKILL)
	return id, errors.Join(wait(ctx, id, st, -1), serr)
}

// Kill sends a signal to the container's process.
func (m *Manager) Kill(ctx context.Context, ref string, sig string) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	signal, err := ParseSignal(cmp.Or(sig, "SIGKILL"))
	if err != nil {
		return err
	}
	st, err := m.Store.Update(ctx, e.Record.ID, func(st *record.State) error {
		if !st.Running() {
			return errclass.New(ErrState, "cannot kill container %s: container is not running", e.Record.Name)
		}
		if signal == unix.SIGKILL || signal == unix.SIGTERM {
			st.StopRequested = true
		}
		st.Signals = append(st.Signals, int(signal))
		return nil
	})
	if err != nil {
		return err
	}
	return unix.Kill(st.Pid, signal)
}

// Wait blocks until the container is stopped and returns its exit code,
// also when it is removed as it stops (--rm), as long as its exit was seen
// recorded first.
func (m *Manager) Wait(ctx context.Context, ref string) (int, error) {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	id, code := e.Record.ID, e.State.ExitCode
	if e.State.Running() || e.State.Status == record.Restarting {
		if code, err = m.watchExit(ctx, id, e.State, -1); err != nil {
			return 0, err
		}
	}
	if e, err := m.Store.Get(id); err == nil {
		code = e.State.ExitCode
	}
	return code, nil
}

// ParseSignal reads a signal by name (SIGTERM, TERM) or number.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, errclass.New(ErrInvalid, "invalid signal: %s", s)
}
