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
func RecordExit(ctx context.Context, dir string, code int, at time.Time, oom bool) (recorded, halted bool, err error) {
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
	json.Unmarshal(st["Status"], &status)
	json.Unmarshal(st["Halted"], &halted)
	if status != "running" && status != "paused" {
		return false, halted, nil
	}
	for k, v := range map[string]any{"Status": "exited", "ExitCode": code, "Pid": 0, "OOMKilled": oom, "FinishedAt": at, "Ports": nil} {
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
