package image

import (
	"bytes"
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/disk"
)

func writeFileAtomic(path string, data []byte) error { return disk.WriteFile(path, data, 0o644) }

func syncDir(dir string) error { return disk.SyncDir(dir) }

// lockFile takes an exclusive (LOCK_EX) or shared (LOCK_SH) lock on path.
func lockFile(ctx context.Context, path string, how int) (func(), error) {
	return disk.Lock(ctx, path, how == unix.LOCK_SH)
}

// contextReader stops a copy when ctx is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// sortedKeys is the keys of m in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// clearDir removes everything inside dir.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
