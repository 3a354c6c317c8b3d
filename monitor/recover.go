package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/dns"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"golang.org/x/sys/unix"
)

// Reclaim is Refresh's work on a container whose monitor is dead, whoever
// does it: it kills the init, cleans up and records the exit. It reports
// whether it recorded the exit (not when the process is alive and not the
// runtime's to stop, nor when a monitor came meanwhile). With claim, the
// calling process is recorded as the container's monitor in the same
// write, as a monitor is while it applies the restart policy.
func Reclaim(ctx context.Context, root string, s *record.Store, e record.Entry, claim bool) (record.Entry, bool) {
	st := e.State
	killed := false
	if Alive(st.Pid) {
		if rt, err := runtime.New(RunDir(root)); err == nil {
			if c, err := rt.Load(e.Record.ID, s.Dir(e.Record.ID)); err == nil {
				if st.Status == record.Paused {
					Thaw(e.Record.Spec)
				}
				killed = c.Signal(unix.SIGKILL) == nil
				WaitProcess(ctx, st.Pid, 5*time.Second)
			}
		}
		if Alive(st.Pid) {
			return e, false // not the runtime's to stop: leave it as it is
		}
	}
	CleanRuntime(root, s, e.Record.ID)
	recorded := false
	if st, err := s.Update(ctx, e.Record.ID, func(st *record.State) error {
		if !(st.Running() || st.Status == record.Restarting) || Of(*st, e.Record.ID) {
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
	} else if !Alive(e.State.Pid) && (e.State.Running() || e.State.Status == record.Restarting) {
		// the state cannot be written (a full disk): what is known is
		// shown, not a dead process as running; the next command tries
		// again
		if killed {
			// kept for the next command, which would find the process
			// gone and know no more than 255
			e.State.ExitCode = 137
			if kerr := keepExit(root, e.Record.ID, PendingExit{Pid: e.State.Pid, ExitCode: 137, FinishedAt: time.Now().UTC(), Reason: err.Error()}); kerr != nil {
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

// Recover is the recovery monitor (`__monitor ID --recover`), which a
// keeper starts when the monitor of container id died by a signal: it does
// what Docker does when a container's shim dies. A container that was
// running is killed and recorded exited 137 (Reclaim), and what the dead
// monitor left is cleaned up; then the monitor's own loop goes on from
// that exit: the restart policy applies (`always`, `unless-stopped`,
// `on-failure`: restarted after the back-off, RestartCount one more; a
// stop or a down meanwhile is never undone), and this process is the
// container's monitor from then on. A container that was not running (its
// monitor died starting it, or cleaning up after it) is only cleaned up,
// and removed if it was to be (--rm).
func Recover(ctx context.Context, root, id string, remove Remove) error {
	s, err := record.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		return err
	}
	e, err := s.Get(id)
	if err != nil {
		return err
	}
	if Of(e.State, id) {
		return nil // a monitor of a later start has it
	}
	if !(e.State.Running() || e.State.Status == record.Restarting) {
		if _, err := os.Stat(filepath.Join(RunDir(root), id)); err == nil {
			CleanRuntime(root, s, id)
		}
		if e.Record.Host.AutoRemove && e.State.Status == record.Exited {
			return remove(ctx, root, e.Record)
		}
		return nil
	}
	// this process is the container's monitor from the exit it records
	// on: between the runs (a stop wakes it from its back-off) and, if it
	// restarts, while it runs
	e, ok := Reclaim(ctx, root, s, e, true)
	if !ok {
		return fmt.Errorf("recovering container %s: its process could not be stopped", id)
	}
	code := e.State.ExitCode
	return monitor(ctx, root, id, pipes{}, remove, nil, &code)
}

// CleanRuntime deletes the runtime's container (mount, cgroup and state)
// and what its networks gave it (namespace, veths, addresses, DNS
// entries), for a container that does not run and whose monitor could
// not. Each part goes whether or not the others are still there: a
// process killed half-way through leaves any subset (the rootfs mounted
// after libcontainer's state is gone; entries its state no longer names).
func CleanRuntime(root string, s *record.Store, id string) {
	if rt, err := runtime.New(RunDir(root)); err == nil {
		if c, err := rt.Load(id, s.Dir(id)); err == nil {
			c.Delete()
		} else {
			rt.Forget(id)
		}
	}
	runtime.UnmountBundle(s.Dir(id))
	var eps map[string]record.Endpoint
	if e, err := s.Load(id); err == nil { // by ID alone: a name is no one's here
		eps = e.State.Networks
	}
	LeaveNetworks(context.Background(), root, id, eps)
	dns.RemoveContainer(DNSDir(root), id)
	os.Remove(PendingPath(root, id))
}
