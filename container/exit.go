package container

import (
	"context"
	"maps"
	"time"

	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/shim"
)

// recordExit records the end of a run: its exit code, when, whether the
// OOM killer struck; it takes the container's endpoints off its state and
// returns them, to leave.
func recordExit(ctx context.Context, s *Store, id, cgroup string, code int, at time.Time) map[string]Endpoint {
	oom := shim.OOMKilled("/sys/fs/cgroup", cgroup)
	var eps map[string]Endpoint
	s.Update(ctx, id, func(st *State) error {
		st.To(Exited)
		st.ExitCode, st.Pid, st.OOMKilled = code, 0, oom
		st.FinishedAt = at
		eps, st.Networks, st.Ports = st.Networks, nil, nil
		return nil
	})
	return eps
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
func leaveAfterExit(ctx context.Context, root string, s *Store, id string) {
	var eps map[string]Endpoint
	s.Update(ctx, id, func(st *State) error {
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
	s.Update(ctx, id, func(st *State) error {
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
func afterWait(ctx context.Context, root string, rt *runtime.Runtime, s *Store, id string, h *shim.Handoff) int {
	if !h.Recorded {
		leaveNetworks(ctx, root, id, recordExit(ctx, s, id, h.Cgroup, h.ExitCode, h.Exited))
	}
	leaveAfterExit(ctx, root, s, id)
	if c, err := rt.Load(id, s.Dir(id)); err == nil {
		c.Delete()
	}
	return h.ExitCode
}
