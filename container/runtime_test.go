package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
)

// TestManagerRuntime: a Manager's runtime is opened at its first use, so
// that commands that ask it nothing (ps, pause of a container that does
// not run) leave nothing under /run; a container it does not have is
// runtime.ErrNotFound for each method of the contract.
func TestManagerRuntime(t *testing.T) {
	fixture.RequireRoot(t, "the runtime's state under /run/berth")
	ctx := context.Background()
	root := t.TempDir()
	run := filepath.Dir(monitor.RunDir(root))
	t.Cleanup(func() { os.RemoveAll(run) })
	m, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &record.Record{ID: record.NewID(), Name: "rt" + record.NewID()[:8], Created: time.Now()}
	if err := m.Store.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := m.List(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Pause(ctx, rec.ID); !errors.Is(err, ErrState) {
		t.Errorf("pause of a created container: %v", err)
	}
	if _, err := os.Stat(run); !os.IsNotExist(err) {
		t.Errorf("the runtime's directory was made with nothing asked of it: %v", err)
	}
	if _, _, err := m.rt.Exec(rec.ID, runtime.Exec{Args: []string{"true"}}, runtime.IO{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("exec: %v", err)
	}
	if err := m.rt.Pause(rec.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("pause: %v", err)
	}
	if err := m.rt.Resume(rec.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("resume: %v", err)
	}
	if _, err := m.rt.Stats(rec.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("stats: %v", err)
	}
	if _, err := m.rt.Processes(rec.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("processes: %v", err)
	}
}
