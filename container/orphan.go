package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime"
)

// alive reports whether pid is a live process (a zombie counts as gone).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := unix.Kill(pid, 0); err != nil {
		return false
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
	return n == 0
}

// Refresh makes a container's recorded state true again after its monitor
// died (killed, or the machine's OOM killer). Without its monitor nothing
// drains the container's output (its pipes died with the monitor, and its
// next write would fail) and nothing can learn its exit status (only a
// parent can), so, as Docker does when a container's shim dies, berth
// stops it: a signal through the runtime, which checks that the process is
// still the container's init before it signals. Then the container is
// recorded as exited and its runtime leftovers (mount, cgroup, libcontainer
// state, networks) are removed. Commands refresh what they look at first,
// so `ps` never shows as running a container nobody supervises. A state
// from an earlier boot is the reboot's, and goes another way (rebooted).
func (m *Manager) Refresh(ctx context.Context, e Entry) Entry {
	st := e.State
	if (st.Running() || st.Status == Restarting) && fromEarlierBoot(st, e.Record.ID) {
		return m.rebooted(ctx, e) // stopped by a reboot: see boot.go
	}
	if !(st.Running() || st.Status == Restarting) || monitorOf(st, e.Record.ID) {
		return e
	}
	killed := false
	if alive(st.Pid) {
		if rt, err := runtime.New(RunDir(m.root)); err == nil {
			if c, err := rt.Load(e.Record.ID, m.Store.Dir(e.Record.ID)); err == nil {
				if st.Status == Paused {
					thaw(e.Record.Spec)
				}
				killed = c.Signal(unix.SIGKILL) == nil
				waitProcess(ctx, st.Pid, 5*time.Second)
			}
		}
		if alive(st.Pid) {
			return e // not the runtime's to stop: leave it as it is
		}
	}
	m.cleanRuntime(e.Record.ID)
	if st, err := m.Store.Update(ctx, e.Record.ID, func(st *State) error {
		if !(st.Running() || st.Status == Restarting) || monitorOf(*st, e.Record.ID) {
			return nil // changed meanwhile
		}
		st.Status, st.Pid = Exited, 0
		if st.FinishedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
			st.FinishedAt = time.Now().UTC()
		}
		switch {
		case killed:
			st.ExitCode, st.Error = 137, "the container's monitor died: berth stopped the container, whose output and exit nothing could record any more"
		case st.Error == "":
			st.ExitCode, st.Error = 255, "the container's monitor died; its exit status was not recorded"
		}
		return nil
	}); err == nil {
		e.State = st
	}
	return e
}

// cleanRuntime deletes the runtime's container (mount, cgroup and state)
// and what its networks gave it (namespace, veths, addresses), for a
// container whose monitor could not.
func (m *Manager) cleanRuntime(id string) {
	rt, err := runtime.New(RunDir(m.root))
	if err != nil {
		return
	}
	if c, err := rt.Load(id, m.Store.Dir(id)); err == nil {
		c.Delete()
	}
	if e, err := m.Store.Get(id); err == nil {
		leaveNetworks(context.Background(), m.root, id, e.State.Networks)
	}
}

// monitorOf reports whether the recorded monitor of container id (in st)
// is alive: a recorded monitor PID may since have gone to another process,
// and one recorded in another boot is never it.
// The process's start time tells; a state written before berth recorded it
// has the monitor's command line, which names the container.
func monitorOf(st State, id string) bool {
	pid := st.MonitorPid
	if otherBoot(st) || !alive(pid) {
		return false
	}
	if st.MonitorStart != 0 {
		start, err := runtime.StartTime(pid)
		return err == nil && start == st.MonitorStart
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(cmdline, []byte("__monitor\x00"+id))
}

// waitExited waits, up to timeout, until the container's exit is recorded:
// by its monitor, which writes it at once, or, should the monitor end
// first (it died), as waitGone does.
func (m *Manager) waitExited(ctx context.Context, id string, st State, timeout time.Duration) error {
	_, err := m.watchExit(ctx, id, st, timeout)
	return err
}

// watchExit is waitExited, returning the exit code it saw recorded: the
// state's own, at the exit, even if the container is removed right after
// (--rm); st's when it saw none.
func (m *Manager) watchExit(ctx context.Context, id string, st State, timeout time.Duration) (int, error) {
	code := st.ExitCode
	if !monitorOf(st, id) {
		return code, m.waitGone(ctx, id, st, timeout)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if timeout >= 0 {
		wctx, cancel = context.WithTimeout(wctx, timeout)
		defer cancel()
	}
	monitorGone := make(chan struct{})
	go func() {
		if waitProcess(wctx, st.MonitorPid, -1) == nil {
			close(monitorGone)
			cancel()
		}
	}()
	// not Restarting either: a monitor between two runs has more to do
	err := m.Store.Watch(wctx, id, func(s State) (bool, error) {
		code = s.ExitCode
		return !s.Running() && s.Status != Restarting, nil
	})
	select {
	case <-monitorGone:
		return code, m.waitGone(ctx, id, st, -1) // records the exit if the monitor did not
	default:
	}
	if errors.Is(err, ErrNotFound) {
		return code, nil // removed as it ended (--rm)
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return code, context.DeadlineExceeded // the grace period, not the caller, ran out
	}
	return code, err
}

// waitGone waits for the container to stop: on its monitor when that is
// alive, else (orphaned) on its init, then records what the monitor would
// have. timeout < 0 waits as long as ctx allows.
func (m *Manager) waitGone(ctx context.Context, id string, st State, timeout time.Duration) error {
	if monitorOf(st, id) {
		return waitProcess(ctx, st.MonitorPid, timeout)
	}
	if err := waitProcess(ctx, st.Pid, timeout); err != nil {
		return err
	}
	e, err := m.Store.Get(id)
	if err != nil {
		return nil
	}
	m.Refresh(ctx, e)
	return nil
}
