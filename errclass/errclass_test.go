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
// CLI's exit code and a caller's errors.Is(err, errclass.ErrNotFound) work
// whichever package said it; it is still found as itself through
// wrapping, and not taken for another package's sentinel of the same
// class.
func TestSentinels(t *testing.T) {
	for _, c := range []struct {
		name     string
		sentinel error
		class    error
	}{
		{"container.ErrNotFound", container.ErrNotFound, errclass.ErrNotFound},
		{"container.ErrNoImage", container.ErrNoImage, errclass.ErrNotFound},
		{"container.ErrConflict", container.ErrConflict, errclass.ErrConflict},
		{"container.ErrState", container.ErrState, errclass.ErrState},
		{"container.ErrInvalid", container.ErrInvalid, errclass.ErrInvalid},
		{"container.ErrUnhealthy", container.ErrUnhealthy, errclass.ErrFailed},
		{"engine.ErrInvalid", engine.ErrInvalid, errclass.ErrInvalid},
		{"engine.ErrNotFound", engine.ErrNotFound, errclass.ErrNotFound},
		{"engine.ErrFailed", engine.ErrFailed, errclass.ErrFailed},
		{"image.ErrNotFound", image.ErrNotFound, errclass.ErrNotFound},
		{"image.ErrInvalid", image.ErrInvalid, errclass.ErrInvalid},
		{"image.ErrConflict", image.ErrConflict, errclass.ErrConflict},
		{"image.ErrRegistry", image.ErrRegistry, errclass.ErrUnavailable},
		{"image.ErrDigest", image.ErrDigest, errclass.ErrFailed},
		{"netns.ErrNotFound", netns.ErrNotFound, errclass.ErrNotFound},
		{"netns.ErrConflict", netns.ErrConflict, errclass.ErrConflict},
		{"netns.ErrExhausted", netns.ErrExhausted, errclass.ErrUnavailable},
		{"netns.ErrInvalid", netns.ErrInvalid, errclass.ErrInvalid},
		{"project.ErrInvalid", project.ErrInvalid, errclass.ErrInvalid},
		{"project.ErrNotFound", project.ErrNotFound, errclass.ErrNotFound},
		{"project.ErrCycle", project.ErrCycle, errclass.ErrInvalid},
		{"runtime.ErrNotFound", runtime.ErrNotFound, errclass.ErrNotFound},
		{"runtime.ErrInvalid", runtime.ErrInvalid, errclass.ErrInvalid},
		{"runtime.ErrState", runtime.ErrState, errclass.ErrState},
		{"tarfs.ErrInvalid", tarfs.ErrInvalid, errclass.ErrInvalid},
		{"volumes.ErrNotFound", volumes.ErrNotFound, errclass.ErrNotFound},
		{"volumes.ErrInUse", volumes.ErrInUse, errclass.ErrConflict},
		{"volumes.ErrInvalid", volumes.ErrInvalid, errclass.ErrInvalid},
		{"watch.ErrInvalid", watch.ErrInvalid, errclass.ErrInvalid},
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
	if err := errclass.New(errclass.ErrConflict, "port is already allocated"); errclass.Of(err) != errclass.ErrConflict || err.Error() != "port is already allocated" {
		t.Errorf("New: %v of %v", err, errclass.Of(err))
	}
}
