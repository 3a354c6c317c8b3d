package shim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/disk"
)

// RecordExit records the end of a run in the container's state file
// (state.json in dir, under the container's lock, as the container store
// writes it): status exited, the exit code, when, whether the OOM killer
// struck, no process, no published ports. It reports whether it recorded
// anything (a state that is no longer running or paused is left as it is)
// and whether the container was halted: stopped by a down, which goes on to
// remove it and cleans up after it.
// The endpoints stay, for whoever leaves the networks first (the monitor,
// or a down that removes them) to take.
//
// The waiting process records the exit at once, so that whoever waits for
// it (stop, down, wait, an attached up) does not wait for the monitor's
// exec too. The fields are container.State's, by their JSON names; the
// container package's tests hold the two together.
//
// A run that the restart policy follows with another is recorded as
// restarting at once, in the same write: between the exit and the next
// run the container never shows as exited, as in Docker.
func RecordExit(ctx context.Context, dir string, code int, at time.Time, oom bool, policy Policy) (recorded, halted bool, err error) {
	unlock, err := disk.Lock(ctx, filepath.Join(dir, ".lock"), false)
	if err != nil {
		return false, false, fmt.Errorf("recording the exit: %w", err)
	}
	defer unlock()
	path := filepath.Join(dir, "state.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return false, false, fmt.Errorf("recording the exit: %w", err)
	}
	var st map[string]json.RawMessage
	if err := json.Unmarshal(data, &st); err != nil {
		return false, false, fmt.Errorf("recording the exit: %w", err)
	}
	var status string
	var stopRequested bool
	var restarts int
	json.Unmarshal(st["Status"], &status)
	json.Unmarshal(st["Halted"], &halted)
	json.Unmarshal(st["StopRequested"], &stopRequested)
	json.Unmarshal(st["RestartCount"], &restarts)
	if status != "running" && status != "paused" {
		return false, halted, nil
	}
	next := "exited"
	if policy.Restarts(stopRequested, restarts, code) {
		next = "restarting"
	}
	for k, v := range map[string]any{"Status": next, "ExitCode": code, "Pid": 0, "OOMKilled": oom, "FinishedAt": at, "Ports": nil} {
		st[k], _ = json.Marshal(v)
	}
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return false, false, err
	}
	if err := disk.WriteFile(path, out, 0o600); err != nil {
		return false, false, fmt.Errorf("recording the exit: %w", err)
	}
	return true, halted, nil
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
