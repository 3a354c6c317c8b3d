package shim

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOOMKilled reads the kill count from either cgroup version's file.
// This machine runs cgroup v1, so v2's file is a fixture of the same form
// the kernel writes.
func TestOOMKilled(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		os.MkdirAll(filepath.Dir(filepath.Join(root, rel)), 0o755)
		os.WriteFile(filepath.Join(root, rel), []byte(content), 0o644)
	}
	write("berth/v2kill/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
	write("berth/v2fine/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")
	write("memory/berth/v1kill/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
	for id, want := range map[string]bool{"v2kill": true, "v2fine": false, "v1kill": true, "none": false} {
		if got := OOMKilled(root, "/berth/"+id); got != want {
			t.Errorf("%s: %v, want %v", id, got, want)
		}
	}
}
