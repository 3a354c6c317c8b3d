package container

import (
	"context"
	"errors"
	"time"

	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
)

// Refresh makes a container's recorded state true again after its monitor
// died (killed, or the machine's OOM killer). Without its monitor nothing
// drains the container's output (its pipes died with the monitor, and its
// next write would fail) and nothing can learn its exit status (only a
// parent can), so, as Docker does when a container's shim dies, berth
// stops it: a signal through the runtime, which checks that the process is
// still the container's init before it signals. Then the container is
// recorded as exited and its runtime leftovers (mount, cgroup, libcontainer
// state, networks) are removed. Commands refresh what they look at first,
// so `ps` never shows as running a container nobody supervises.
//
// That is the work of the monitor's keeper (see Recover) while the keeper
// lives: Refresh then waits for it, a few moments at most, and does it
// itself only when no keeper is left to (killed too, or a reboot).
//
// A state from an earlier boot is the reboot's, and goes another way
// (rebooted).
func (m *Manager) Refresh(ctx context.Context, e record.Entry) record.Entry {
	st := e.State
	if (st.Running() || st.Status == record.Restarting) && fromEarlierBoot(st, e.Record.ID) {
		return m.rebooted(ctx, e) // stopped by a reboot: see boot.go
	}
	if st.Running() && m.applyPending(ctx, &e) {
		return e // an exit its monitor could not write (a full disk)
	}
	if !(st.Running() || st.Status == record.Restarting) || monitor.Of(st, e.Record.ID) {
		return e
	}
	if keeperOf(st) {
		if st, ok := m.awaitRecovery(ctx, e.Record.ID, st); ok {
			e.State = st
			return e
		}
	}
	e, _ = monitor.Reclaim(ctx, m.root, m.Store, e, false)
	return e
}

// keeperOf reports whether the recorded keeper of a container's monitor
// is alive (the same process, by its start time).
func keeperOf(st record.State) bool {
	if !monitor.Alive(st.Keeper) {
		return false
	}
	start, err := runtime.StartTime(st.Keeper)
	return err == nil && start == st.KeeperStart
}

// awaitRecovery waits, up to recoveryWait, for the keeper to recover a
// container whose monitor died: for the recovery monitor to record the
// exit or to take the container over. It reports false if the keeper
// died first or did not get there in time.
func (m *Manager) awaitRecovery(ctx context.Context, id string, st record.State) (record.State, bool) {
	return m.awaitKeeper(ctx, id, st, func(s record.State) bool {
		return !(s.Running() || s.Status == record.Restarting) || monitor.Of(s, id)
	})
}

// awaitStart waits, up to recoveryWait, for the keeper recorded in st to
// have its monitor start the container, or to end. It returns the state
// last seen and whether the keeper was done with it.
func (m *Manager) awaitStart(ctx context.Context, id string, st record.State) (record.State, bool) {
	got, ok := m.awaitKeeper(ctx, id, st, func(s record.State) bool { return s.Running() || !keeperOf(s) })
	return got, ok || !keeperOf(got)
}

// awaitKeeper waits, up to recoveryWait, until done holds for container
// id's state, or the keeper recorded in st ends or is no longer the
// state's; it returns the state last seen and whether done held.
func (m *Manager) awaitKeeper(ctx context.Context, id string, st record.State, done func(record.State) bool) (record.State, bool) {
	wctx, cancel := context.WithTimeout(ctx, recoveryWait)
	defer cancel()
	go func() {
		if monitor.WaitProcess(wctx, st.Keeper, -1) == nil {
			cancel()
		}
	}()
	got, ok := st, false
	m.Store.Watch(wctx, id, func(s record.State) (bool, error) {
		got = s
		ok = done(s)
		return ok || !keeperOf(s), nil
	})
	return got, ok
}

// recoveryWait bounds the wait for a keeper's recovery: the recovery
// monitor starts, kills the container and records its exit within tens of
// milliseconds on an idle machine.
const recoveryWait = 10 * time.Second

// waitExited waits, up to timeout, until the container's exit is recorded:
// by its monitor, which writes it at once, or, should the monitor end
// first (it died), as waitGone does.
func (m *Manager) waitExited(ctx context.Context, id string, st record.State, timeout time.Duration) error {
	_, err := m.watchExit(ctx, id, st, timeout)
	return err
}

// watchExit is waitExited, returning the exit code it saw recorded: the
// state's own, at the exit, even if the container is removed right after
// (--rm); st's when it saw none.
func (m *Manager) watchExit(ctx context.Context, id string, st record.State, timeout time.Duration) (int, error) {
	code := st.ExitCode
	if !monitor.Of(st, id) {
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
		if monitor.WaitProcess(wctx, st.MonitorPid, -1) == nil {
			close(monitorGone)
			cancel()
		}
	}()
	// not Restarting either: a monitor between two runs has more to do
	err := m.Store.Watch(wctx, id, func(s record.State) (bool, error) {
		code = s.ExitCode
		return !s.Running() && s.Status != record.Restarting, nil
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
func (m *Manager) waitGone(ctx context.Context, id string, st record.State, timeout time.Duration) error {
	if monitor.Of(st, id) {
		return monitor.WaitProcess(ctx, st.MonitorPid, timeout)
	}
	if err := monitor.WaitProcess(ctx, st.Pid, timeout); err != nil {
		return err
	}
	e, err := m.Store.Get(id)
	if err != nil {
		return nil
	}
	m.Refresh(ctx, e)
	return nil
}
