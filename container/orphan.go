package container

import (
	"context"
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
// died (killed, or the machine's OOM killer): a container whose init is gone
// too is recorded as exited and its runtime leftovers (mount, cgroup,
// libcontainer state) are removed; one whose init still runs is running,
// orphaned, and Stop and Wait then watch the init itself. Commands that
// report state (ps, inspect) refresh first, so they never show a dead
// container as running.
func (m *Manager) Refresh(ctx context.Context, e Entry) Entry {
	st := e.State
	if !(st.Running() || st.Status == Restarting) || alive(st.MonitorPid) || alive(st.Pid) {
		return e
	}
	m.cleanRuntime(e.Record.ID)
	if st, err := m.Store.Update(ctx, e.Record.ID, func(st *State) error {
		if !(st.Running() || st.Status == Restarting) || alive(st.MonitorPid) {
			return nil // changed meanwhile
		}
		st.Status, st.Pid = Exited, 0
		if st.FinishedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
			st.FinishedAt = time.Now().UTC()
		}
		if st.Error == "" {
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

// waitGone waits for the container to stop: on its monitor when that is
// alive, else (orphaned) on its init, then records what the monitor would
// have. timeout < 0 waits as long as ctx allows.
func (m *Manager) waitGone(ctx context.Context, id string, st State, timeout time.Duration) error {
	if alive(st.MonitorPid) {
		return m.waitMonitor(ctx, st.MonitorPid, timeout)
	}
	if err := m.waitMonitor(ctx, st.Pid, timeout); err != nil {
		return err
	}
	e, err := m.Store.Get(id)
	if err != nil {
		return nil
	}
	m.Refresh(ctx, e)
	return nil
}
