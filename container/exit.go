package container

import (
	"context"
	"encoding/json"
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
// A state that cannot be written (the root's disk is full) keeps the exit
// in memory instead, under /run (see pendingExit): the next command that
// reads the container records it, or shows it, from there.
func recordExit(ctx context.Context, s *record.Store, id, cgroup string, code int, at time.Time, policy record.RestartPolicy) map[string]record.Endpoint {
	oom := shim.OOMKilled("/sys/fs/cgroup", cgroup)
	var eps map[string]record.Endpoint
	pid := 0
	if _, err := s.Update(ctx, id, func(st *record.State) error {
		pid = st.Pid
		if !shouldRestart(policy, *st, code) || st.To(record.Restarting) != nil {
			st.To(record.Exited)
		}
		st.ExitCode, st.Pid, st.OOMKilled = code, 0, oom
		st.FinishedAt = at
		eps, st.Networks, st.Ports = st.Networks, nil, nil
		return nil
	}); err != nil && pid != 0 {
		keepExit(filepath.Dir(s.Root()), id, pendingExit{Pid: pid, ExitCode: code, FinishedAt: at, OOMKilled: oom, Reason: err.Error()})
		return nil // recorded endpoints stay, for the clean-up
	}
	return eps
}

// pendingExit is an exit that could not be written to the container's
// state, kept in RunDir's exits/<id>.json: /run is memory, which a full
// disk does not refuse, and it lasts as long as the exit means anything
// (until a reboot, which records its own).
type pendingExit struct {
	Pid        int // the run's init, so that it is applied to that run only
	ExitCode   int
	FinishedAt time.Time
	OOMKilled  bool
	Reason     string // why it could not be recorded
}

func pendingPath(root, id string) string { return filepath.Join(RunDir(root), "exits", id+".json") }

// keepExit keeps p for container id until it can be recorded.
func keepExit(root, id string, p pendingExit) {
	path := pendingPath(root, id)
	if os.MkdirAll(filepath.Dir(path), 0o700) != nil {
		return
	}
	data, _ := json.Marshal(p)
	tmp := path + ".tmp"
	if os.WriteFile(tmp, data, 0o600) == nil {
		os.Rename(tmp, path)
	}
}

// applyPending records the exit that e's run left pending, if any (its
// init gone, the exit kept by keepExit), and reports whether there was
// one. When the state still cannot be written, e says in memory what is
// known: exited, with the code and why it is not recorded; so ps never
// shows a dead process as running.
func (m *Manager) applyPending(ctx context.Context, e *record.Entry) bool {
	id := e.Record.ID
	data, err := os.ReadFile(pendingPath(m.root, id))
	if err != nil {
		return false
	}
	var p pendingExit
	if json.Unmarshal(data, &p) != nil || p.Pid != e.State.Pid {
		os.Remove(pendingPath(m.root, id)) // a later run's state is written: history
		return false
	}
	if alive(p.Pid) {
		return false
	}
	apply := func(st *record.State) {
		st.Status, st.Pid = record.Exited, 0
		st.ExitCode, st.FinishedAt, st.OOMKilled = p.ExitCode, p.FinishedAt, p.OOMKilled
	}
	st, err := m.Store.Update(ctx, id, func(st *record.State) error {
		if st.Pid == p.Pid && (st.Running() || st.Status == record.Restarting) {
			apply(st)
		}
		return nil
	})
	if err != nil {
		apply(&e.State)
		e.State.Error = "the exit could not be recorded: " + p.Reason
		return true
	}
	os.Remove(pendingPath(m.root, id))
	e.State = st
	if !monitorOf(st, id) {
		m.cleanRuntime(id) // what its monitor could not: networks, mounts
	}
	return true
}

// leaveAfterExit takes the endpoints of an exited container off its state
// and leaves them, if nobody has yet: its monitor, after the exit, or a
// down that is about to remove the networks and so must not wait for the
// monitor (see Manager.Halt). Taking them under the container's lock makes
// one of the two do it.
//
// The endpoints are left before they are taken off the state, so that a
// process killed in between leaves them recorded for whoever cleans up
// next (cleanRuntime); two that leave at once leave the same endpoints,
// which is no harm: each step gives back only what this container holds.
func leaveAfterExit(ctx context.Context, root string, s *record.Store, id string) {
	var eps map[string]record.Endpoint
	s.Update(ctx, id, func(st *record.State) error {
		if !st.Running() {
			eps = maps.Clone(st.Networks)
		}
		return nil
	})
	if len(eps) == 0 {
		return
	}
	leaveNetworks(ctx, root, id, eps)
	crash.Point("halt-left")
	s.Update(ctx, id, func(st *record.State) error {
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
}

// afterWait finishes a run that the waiting process saw end: the exit
// recorded (unless it did so itself), the networks left (the ports with
// them), the runtime's container deleted. It returns the exit code.
func afterWait(ctx context.Context, root string, rt *runtime.Runtime, s *record.Store, id string, h *shim.Handoff) int {
	if !h.Recorded {
		leaveNetworks(ctx, root, id, recordExit(ctx, s, id, h.Cgroup, h.ExitCode, h.Exited, record.RestartPolicy(h.Restart)))
	}
	leaveAfterExit(ctx, root, s, id)
	if c, err := rt.Load(id, s.Dir(id)); err == nil {
		c.Delete()
	}
	return h.ExitCode
}
