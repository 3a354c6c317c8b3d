package volumes

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSweep: what a killed create, remove or copy-up left goes; a named
// volume's data and a live process's copy-up stay.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Create(ctx, "data", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(v.Mountpoint, "mark"), []byte("kept"), 0o644)
	// a create killed before its metadata
	os.MkdirAll(filepath.Join(s.dir, NewName(), "_data"), 0o755)
	// a copy-up whose process is gone, and one whose process runs
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(s.dir, "data", fmt.Sprintf("%s%d-1", copyPrefix, dead.Process.Pid))
	live := filepath.Join(s.dir, "data", fmt.Sprintf("%s%d-2", copyPrefix, os.Getpid()))
	for _, d := range []string{gone, live} {
		os.MkdirAll(filepath.Join(d, "etc"), 0o755)
	}
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(s.dir)
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) != 1 || names[0] != "data" {
		t.Errorf("volume directories after the sweep: %v, want data alone", names)
	}
	if _, err := os.Stat(gone); err == nil {
		t.Error("a dead process's copy-up directory is left")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("a live process's copy-up directory was removed")
	}
	if got, _ := os.ReadFile(filepath.Join(v.Mountpoint, "mark")); string(got) != "kept" {
		t.Errorf("the named volume's data: %q", got)
	}
}
