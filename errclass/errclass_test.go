package errclass_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/tarfs"
	"github.com/berth-dev/berth/volumes"
	"github.com/berth-dev/berth/watch"
)

// TestSentinels: every package's sentinel is of one class, so that the
// CLI's exit code and a caller's errors.Is(err, errclass.NotFound) work
// whichever package said it; it is still found as itself through
// wrapping, and not taken for another package's sentinel of the same
// class.
func TestSentinels(t *testing.T) {
	for _, c := range []struct {
		name     string
		sentinel error
		class    error
	}{
		{"container.ErrNotFound", container.ErrNotFound, errclass.NotFound},
		{"container.ErrNoImage", container.ErrNoImage, errclass.NotFound},
		{"container.ErrConflict", container.ErrConflict, errclass.Conflict},
		{"container.ErrState", container.ErrState, errclass.State},
		{"container.ErrInvalid", container.ErrInvalid, errclass.Invalid},
		{"container.ErrUnhealthy", container.ErrUnhealthy, errclass.Failed},
		{"engine.ErrInvalid", engine.ErrInvalid, errclass.Invalid},
		{"engine.ErrNotFound", engine.ErrNotFound, errclass.NotFound},
		{"engine.ErrFailed", engine.ErrFailed, errclass.Failed},
		{"image.ErrNotFound", image.ErrNotFound, errclass.NotFound},
		{"image.ErrInvalid", image.ErrInvalid, errclass.Invalid},
		{"image.ErrConflict", image.ErrConflict, errclass.Conflict},
		{"image.ErrRegistry", image.ErrRegistry, errclass.Unavailable},
		{"image.ErrDigest", image.ErrDigest, errclass.Failed},
		{"netns.ErrNotFound", netns.ErrNotFound, errclass.NotFound},
		{"netns.ErrConflict", netns.ErrConflict, errclass.Conflict},
		{"netns.ErrExhausted", netns.ErrExhausted, errclass.Unavailable},
		{"netns.ErrInvalid", netns.ErrInvalid, errclass.Invalid},
		{"project.ErrInvalid", project.ErrInvalid, errclass.Invalid},
		{"project.ErrNotFound", project.ErrNotFound, errclass.NotFound},
		{"project.ErrCycle", project.ErrCycle, errclass.Invalid},
		{"runtime.ErrNotFound", runtime.ErrNotFound, errclass.NotFound},
		{"runtime.ErrInvalid", runtime.ErrInvalid, errclass.Invalid},
		{"runtime.ErrState", runtime.ErrState, errclass.State},
		{"tarfs.ErrInvalid", tarfs.ErrInvalid, errclass.Invalid},
		{"volumes.ErrNotFound", volumes.ErrNotFound, errclass.NotFound},
		{"volumes.ErrInUse", volumes.ErrInUse, errclass.Conflict},
		{"volumes.ErrInvalid", volumes.ErrInvalid, errclass.Invalid},
		{"watch.ErrInvalid", watch.ErrInvalid, errclass.Invalid},
	} {
		wrapped := fmt.Errorf("doing it %q: %w", "x", c.sentinel)
		if got := errclass.Of(wrapped); got != c.class {
			t.Errorf("%s: class %v, want %v", c.name, got, c.class)
		}
		if !errors.Is(wrapped, c.sentinel) {
			t.Errorf("%s is not found through wrapping", c.name)
		}
	}
	// one package's not found is not another's
	if errors.Is(fmt.Errorf("w: %w", volumes.ErrNotFound), container.ErrNotFound) {
		t.Error("a missing volume is taken for a missing container")
	}
	// a classed error without a sentinel
	if err := errclass.New(errclass.Conflict, "port is already allocated"); errclass.Of(err) != errclass.Conflict || err.Error() != "port is already allocated" {
		t.Errorf("New: %v of %v", err, errclass.Of(err))
	}
}
