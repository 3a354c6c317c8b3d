package volumes

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/disk"
)

// copyPrefix begins the name of a copy-up's temporary directory, beside
// the volume's _data, followed by the copying process's PID.
const copyPrefix = "copyup-"

// Sweep removes what a process killed in the middle of a volume's steps
// left, under the store's lock (which Create and Remove hold for theirs):
// a volume directory without meta.json (a create killed before it wrote
// it, or a remove killed after it took it away: a volume no command sees,
// whose data was going anyway) and a copy-up's temporary directory whose
// process is gone (the volume's own _data is whole or still empty: the
// copy is renamed over it in one step). Named volumes that have their
// metadata are never touched. The container store's sweep calls it.
func (s *Store) Sweep(ctx context.Context) error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var dirs, copies []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(s.dir, e.Name())
		if _, err := os.Lstat(filepath.Join(dir, "meta.json")); err != nil {
			dirs = append(dirs, dir)
			continue
		}
		inner, _ := os.ReadDir(dir)
		for _, f := range inner {
			if rest, ok := strings.CutPrefix(f.Name(), copyPrefix); ok && !copying(rest) {
				copies = append(copies, filepath.Join(dir, f.Name()))
			}
		}
	}
	if len(dirs) == 0 && len(copies) == 0 {
		return nil // the usual case: no lock taken
	}
	unlock, err := disk.Lock(ctx, filepath.Join(s.dir, ".lock"), false)
	if err != nil {
		return err
	}
	defer unlock()
	for _, c := range copies {
		os.RemoveAll(c)
	}
	for _, dir := range dirs {
		if _, err := os.Lstat(filepath.Join(dir, "meta.json")); err == nil {
			continue // made whole meanwhile
		}
		if s.Unmount != nil {
			s.Unmount(filepath.Join(dir, "_data")) // a tmpfs volume's host mount
		}
		os.RemoveAll(dir)
	}
	return nil
}

// copying reports whether the process named at the start of a copy-up
// directory's name (after copyPrefix: "PID-random") may still be copying.
// A reused PID keeps a dead copy's directory until that process ends too:
// never a live copy's removed.
func copying(rest string) bool {
	pidText, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return false // not this version's: no process can be copying into it
	}
	return unix.Kill(pid, 0) != unix.ESRCH
}
