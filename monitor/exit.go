package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/shim"
)

// recordExit records the end of a run: its exit code, when, whether the
// OOM killer struck, and restarting rather than exited when the policy
// follows it with another run (as shim.RecordExit); it takes the
// container's endpoints off its state and returns them, to leave.
//
// An exit that is recorded already is left as it is: the waiting process
// (package shim) records it first, with all that the monitor would, and
// whoever found the monitor gone (Reclaim) records its own; the monitor
// then only takes the endpoints. A state in no other lifecycle state has
// no run to end (being removed, say): that is the state machine's error.
//
// A state that cannot be written (the root's disk is full) keeps the exit
// in memory instead, under /run (see PendingExit): the next command that
// reads the container records it, or shows it, from there. The error is
// returned when the exit is neither recorded nor kept.
func recordExit(ctx context.Context, s *record.Store, id, cgroup string, code int, at time.Time, policy record.RestartPolicy) (map[string]record.Endpoint, error) {
	oom := shim.OOMKilled("/sys/fs/cgroup", cgroup)
	var eps map[string]record.Endpoint
	pid := 0
	_, err := s.Update(ctx, id, func(st *record.State) error {
		pid = st.Pid
		if err := exitState(st, code, at, oom, policy); err != nil {
			return err
		}
		eps, st.Networks, st.Ports = st.Networks, nil, nil
		return nil
	})
	if err == nil {
		return eps, nil
	}
	if pid == 0 {
		return nil, fmt.Errorf("recording the exit of container %s: %w", id, err)
	}
	if kerr := keepExit(filepath.Dir(s.Root()), id, PendingExit{Pid: pid, ExitCode: code, FinishedAt: at, OOMKilled: oom, Reason: err.Error()}); kerr != nil {
		return nil, fmt.Errorf("recording the exit of container %s: %w", id, errors.Join(err, kerr))
	}
	return nil, nil // recorded endpoints stay, for the clean-up
}

// exitState is recordExit's change of the state: a run that is running
// or paused ends (State.Exit); one that exited or is restarting had its
// exit recorded already (the waiting process's, or Reclaim's), which
// stands; any other state is refused.
func exitState(st *record.State, code int, at time.Time, oom bool, policy record.RestartPolicy) error {
	switch {
	case st.Running():
		return st.Exit(code, at, oom, shouldRestart(policy, *st, code))
	case st.Status == record.Exited || st.Status == record.Restarting:
		return nil
	}
	return fmt.Errorf("recording an exit: container is %s: %w", st.Status, record.ErrState)
}

// PendingExit is an exit that could not be written to the container's
// state, kept in RunDir's exits/<id>.json: /run is memory, which a full
// disk does not refuse, and it lasts as long as the exit means anything
// (until a reboot, which records its own).
type PendingExit struct {
	Pid        int // the run's init, so that it is applied to that run only
	ExitCode   int
	FinishedAt time.Time
	OOMKilled  bool
	Reason     string // why it could not be recorded
}

func PendingPath(root, id string) string { return filepath.Join(RunDir(root), "exits", id+".json") }

// keepExit keeps p for container id until it can be recorded.
func keepExit(root, id string, p PendingExit) error {
	path := PendingPath(root, id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, _ := json.Marshal(p)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LeaveAfterExit takes the endpoints of an exited container off its state
// and leaves them, if nobody has yet: its monitor, after the exit, or a
// down that is about to remove the networks and so must not wait for the
// monitor (see Manager.Halt). Taking them under the container's lock makes
// one of the two do it.
//
// The endpoints are left before they are taken off the state, so that a
// process killed in between leaves them recorded for whoever cleans up
// next (CleanRuntime); two that leave at once leave the same endpoints,
// which is no harm: each step gives back only what this container holds.
func LeaveAfterExit(ctx context.Context, root string, s *record.Store, id string) error {
	var eps map[string]record.Endpoint
	if _, err := s.Update(ctx, id, func(st *record.State) error {
		if !st.Running() {
			eps = maps.Clone(st.Networks)
		}
		return nil
	}); errors.Is(err, record.ErrNotFound) {
		return nil // removed (--rm) by whoever cleaned up after it
	} else if err != nil {
		return fmt.Errorf("leaving the networks of container %s: %w", id, err)
	}
	if len(eps) == 0 {
		return nil
	}
	LeaveNetworks(ctx, root, id, eps)
	crash.Point("halt-left")
	_, err := s.Update(ctx, id, func(st *record.State) error {
		for name, ep := range eps {
			if cur, ok := st.Networks[name]; ok && cur.HostIf == ep.HostIf && !st.Running() {
				delete(st.Networks, name)
			}
		}
		if len(st.Networks) == 0 {
			st.Networks = nil
		}
		return nil
	})
	if err != nil && !errors.Is(err, record.ErrNotFound) {
		return fmt.Errorf("leaving the networks of container %s: %w", id, err)
	}
	return nil
}

// afterWait finishes a run that the waiting process saw end: the exit
// recorded (unless it did so itself), the networks left (the ports with
// them), the runtime's container deleted. It returns the exit code, and
// an error if the exit could not be recorded or the endpoints taken off
// the state; the clean-up goes on regardless.
func afterWait(ctx context.Context, root string, rt *runtime.Runtime, s *record.Store, id string, h *shim.Handoff) (int, error) {
	var errs []error
	if !h.Recorded {
		eps, err := recordExit(ctx, s, id, h.Cgroup, h.ExitCode, h.Exited, record.RestartPolicy(h.Restart))
		errs = append(errs, err)
		LeaveNetworks(ctx, root, id, eps)
	}
	errs = append(errs, LeaveAfterExit(ctx, root, s, id))
	if c, err := rt.Load(id, s.Dir(id)); err == nil {
		c.Delete()
	}
	return h.ExitCode, errors.Join(errs...)
}
