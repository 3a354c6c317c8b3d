package shim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/record"
)

// RecordExit records the end of a run in the container's state (state.json
// in dir, through the container store, under the container's lock, by
// record.State.Exit): status exited, the exit code, when, whether the OOM killer
// struck, no process, no published ports. It reports whether it recorded
// anything (a state that is no longer running or paused is left as it is)
// and whether the container was halted: stopped by a down, which goes on to
// remove it and cleans up after it.
// The endpoints stay, for whoever leaves the networks first (the monitor,
// or a down that removes them) to take.
//
// The waiting process records the exit at once, so that whoever waits for
// it (stop, down, wait, an attached up) does not wait for the monitor's
// exec too.
//
// A run that the restart policy follows with another is recorded as
// restarting at once, in the same write: between the exit and the next
// run the container never shows as exited, as in Docker.
func RecordExit(ctx context.Context, dir string, code int, at time.Time, oom bool, policy Policy) (recorded, halted bool, err error) {
	s, err := record.OpenStore(filepath.Dir(dir))
	if err != nil {
		return false, false, fmt.Errorf("recording the exit: %w", err)
	}
	_, err = s.Update(ctx, filepath.Base(dir), func(st *record.State) error {
		halted = st.Halted
		if st.Status != record.Running && st.Status != record.Paused {
			return nil
		}
		if err := st.Exit(code, at, oom, policy.Restarts(st.StopRequested, st.RestartCount, code)); err != nil {
			return err
		}
		recorded = true
		return nil
	})
	if err != nil {
		return false, false, fmt.Errorf("recording the exit: %w", err)
	}
	return recorded, halted, nil
}

// Policy is a container's restart policy, Docker's: no, always,
// unless-stopped, on-failure (with a maximum of restarts, 0 for none).
type Policy struct {
	Name              string
	MaximumRetryCount int
}

// Restarts reports whether a run that ended with code is followed by
// another: never after a stop or kill asked for it (stopRequested), else as
// the policy says, restarts being the restarts so far.
func (p Policy) Restarts(stopRequested bool, restarts, code int) bool {
	if stopRequested {
		return false
	}
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.MaximumRetryCount == 0 || restarts < p.MaximumRetryCount)
	}
	return false
}

// OOMKilled reads whether the kernel's OOM killer struck in a container's
// cgroup (/berth/ID) under the cgroup mount root (/sys/fs/cgroup): memory.events on
// cgroup v2, memory.oom_control in v1's memory hierarchy; both say
// "oom_kill N".
func OOMKilled(root, cgroup string) bool {
	for _, p := range []string{filepath.Join(root, cgroup, "memory.events"), filepath.Join(root, "memory", cgroup, "memory.oom_control")} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" && f[1] != "0" {
				return true
			}
		}
	}
	return false
}
