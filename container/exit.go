package container

import (
	"context"
	"time"

	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/shim"
)

// recordExit records the end of a run: its exit code, when, whether the
// OOM killer struck, and restarting rather than exited when the policy
// follows it with another run (as shim.RecordExit); it takes the
// container's endpoints off its state and returns them, to leave.
func recordExit(ctx context.Context, s *Store, id, cgroup string, code int, at time.Time, policy RestartPolicy) map[string]Endpoint {
	oom := shim.OOMKilled("/sys/fs/cgroup", cgroup)
	var eps map[string]Endpoint
	s.Update(ctx, id, func(st *State) error {
		if !shouldRestart(policy, *st, code) || st.To(Restarting) != nil {
			st.To(Exited)
		}
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
func leaveAfterExit(ctx context.Context, root string, s *Store, id string) {
	var eps map[string]Endpoint
	s.Update(ctx, id, func(st *State) error {
		if !st.Running() {
			eps, st.Networks = st.Networks, nil
		}
		return nil
	})
	leaveNetworks(ctx, root, id, eps)
}

// afterWait finishes a run that the waiting process saw end: the exit
// recorded (unless it did so itself), the networks left (the ports with
// them), the runtime's container deleted. It returns the exit code.
func afterWait(ctx context.Context, root string, rt *runtime.Runtime, s *Store, id string, h *shim.Handoff) int {
	if !h.Recorded {
		recordExit(ctx, s, id, h.Cgroup, h.ExitCode, h.Exited, RestartPolicy(h.Restart))
	}
	leaveAfterExit(ctx, root, s, id)
	if c, err := rt.Load(id, s.Dir(id)); err == nil {
		c.Delete()
	}
	return h.ExitCode
}
