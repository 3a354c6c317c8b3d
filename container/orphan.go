package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/dns"
	"github.com/berth-dev/berth/record"
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
	if !(st.Running() || st.Status == record.Restarting) || monitorOf(st, e.Record.ID) {
		return e
	}
	if keeperOf(st) {
		if st, ok := m.awaitRecovery(ctx, e.Record.ID, st); ok {
			e.State = st
			return e
		}
	}
	e, _ = m.reclaim(ctx, e, false)
	return e
}

// reclaim is Refresh's work on a container whose monitor is dead, whoever
// does it: it kills the init, cleans up and records the exit. It reports
// whether it recorded the exit (not when the process is alive and not the
// runtime's to stop, nor when a monitor came meanwhile). With claim, the
// calling process is recorded as the container's monitor in the same
// write, as a monitor is while it applies the restart policy.
func (m *Manager) reclaim(ctx context.Context, e record.Entry, claim bool) (record.Entry, bool) {
	st := e.State
	killed := false
	if alive(st.Pid) {
		if rt, err := runtime.New(RunDir(m.root)); err == nil {
			if c, err := rt.Load(e.Record.ID, m.Store.Dir(e.Record.ID)); err == nil {
				if st.Status == record.Paused {
					thaw(e.Record.Spec)
				}
				killed = c.Signal(unix.SIGKILL) == nil
				waitProcess(ctx, st.Pid, 5*time.Second)
			}
		}
		if alive(st.Pid) {
			return e, false // not the runtime's to stop: leave it as it is
		}
	}
	m.cleanRuntime(e.Record.ID)
	recorded := false
	if st, err := m.Store.Update(ctx, e.Record.ID, func(st *record.State) error {
		if !(st.Running() || st.Status == record.Restarting) || monitorOf(*st, e.Record.ID) {
			return nil // changed meanwhile
		}
		recorded = true
		if claim {
			st.MonitorPid = os.Getpid()
			st.MonitorStart, _ = runtime.StartTime(st.MonitorPid)
			st.Keeper, st.KeeperStart = keeperOfMonitor()
		}
		restarting := st.Status == record.Restarting
		if err := st.To(record.Exited); err != nil {
			return err
		}
		st.Pid = 0
		if st.FinishedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
			st.FinishedAt = time.Now().UTC()
		}
		switch {
		case killed:
			st.ExitCode, st.Error = 137, "the container's monitor died: berth stopped the container, whose output and exit nothing could record any more"
		case restarting:
			// between two runs: the last exit is recorded already
		case st.Error == "":
			st.ExitCode, st.Error = 255, "the container's monitor died; its exit status was not recorded"
		}
		return nil
	}); err == nil {
		e.State = st
	} else if !alive(e.State.Pid) && (e.State.Running() || e.State.Status == record.Restarting) {
		// the state cannot be written (a full disk): what is known is
		// shown, not a dead process as running; the next command tries
		// again
		if killed {
			// kept for the next command, which would find the process
			// gone and know no more than 255
			e.State.ExitCode = 137
			if kerr := keepExit(m.root, e.Record.ID, pendingExit{Pid: e.State.Pid, ExitCode: 137, FinishedAt: time.Now().UTC(), Reason: err.Error()}); kerr != nil {
				err = errors.Join(err, kerr) // shown below: the next command will know no more than 255
			}
		} else if e.State.Status != record.Restarting {
			e.State.ExitCode = 255
		}
		e.State.Status, e.State.Pid = record.Exited, 0
		e.State.Error = "the container's process is gone; its exit could not be recorded: " + err.Error()
	}
	return e, recorded
}

// keeperOf reports whether the recorded keeper of a container's monitor
// is alive (the same process, by its start time).
func keeperOf(st record.State) bool {
	if !alive(st.Keeper) {
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
		return !(s.Running() || s.Status == record.Restarting) || monitorOf(s, id)
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
		if waitProcess(wctx, st.Keeper, -1) == nil {
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

// Recover is the recovery monitor (`__monitor ID --recover`), which a
// keeper starts when the monitor of container id died by a signal: it does
// what Docker does when a container's shim dies. A container that was
// running is killed and recorded exited 137 (reclaim), and what the dead
// monitor left is cleaned up; then the monitor's own loop goes on from
// that exit: the restart policy applies (`always`, `unless-stopped`,
// `on-failure`: restarted after the back-off, RestartCount one more; a
// stop or a down meanwhile is never undone), and this process is the
// container's monitor from then on. A container that was not running (its
// monitor died starting it, or cleaning up after it) is only cleaned up,
// and removed if it was to be (--rm).
func Recover(ctx context.Context, root, id string) error {
	m, err := Open(root, nil)
	if err != nil {
		return err
	}
	e, err := m.Store.Get(id)
	if err != nil {
		return err
	}
	if monitorOf(e.State, id) {
		return nil // a monitor of a later start has it
	}
	if !(e.State.Running() || e.State.Status == record.Restarting) {
		if _, err := os.Stat(filepath.Join(RunDir(root), id)); err == nil {
			m.cleanRuntime(id)
		}
		if e.Record.Host.AutoRemove && e.State.Status == record.Exited {
			return m.autoRemove(ctx, e.Record)
		}
		return nil
	}
	// this process is the container's monitor from the exit it records
	// on: between the runs (a stop wakes it from its back-off) and, if it
	// restarts, while it runs
	e, ok := m.reclaim(ctx, e, true)
	if !ok {
		return fmt.Errorf("recovering container %s: its process could not be stopped", id)
	}
	code := e.State.ExitCode
	return monitor(ctx, root, id, MonitorIO{}, nil, &code)
}

// cleanRuntime deletes the runtime's container (mount, cgroup and state)
// and what its networks gave it (namespace, veths, addresses, DNS
// entries), for a container that does not run and whose monitor could
// not. Each part goes whether or not the others are still there: a
// process killed half-way through leaves any subset (the rootfs mounted
// after libcontainer's state is gone; entries its state no longer names).
func (m *Manager) cleanRuntime(id string) {
	if rt, err := runtime.New(RunDir(m.root)); err == nil {
		if c, err := rt.Load(id, m.Store.Dir(id)); err == nil {
			c.Delete()
		} else {
			rt.Forget(id)
		}
	}
	runtime.UnmountBundle(m.Store.Dir(id))
	var eps map[string]record.Endpoint
	if e, err := m.Store.Load(id); err == nil { // by ID alone: a name is no one's here
		eps = e.State.Networks
	}
	leaveNetworks(context.Background(), m.root, id, eps)
	dns.RemoveContainer(dnsDir(m.root), id)
	os.Remove(pendingPath(m.root, id))
}

// monitorOf reports whether the recorded monitor of container id (in st)
// is alive: a recorded monitor PID may since have gone to another process,
// and one recorded in another boot is never it.
// The process's start time tells; a state written before berth recorded it
// has the monitor's command line, which names the container.
func monitorOf(st record.State, id string) bool {
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
func (m *Manager) waitExited(ctx context.Context, id string, st record.State, timeout time.Duration) error {
	_, err := m.watchExit(ctx, id, st, timeout)
	return err
}

// watchExit is waitExited, returning the exit code it saw recorded: the
// state's own, at the exit, even if the container is removed right after
// (--rm); st's when it saw none.
func (m *Manager) watchExit(ctx context.Context, id string, st record.State, timeout time.Duration) (int, error) {
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
