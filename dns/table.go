package dns

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fsnotify/fsnotify"
)

// Entry is what the resolvers know of one running container on one
// network: the names it answers to there and its address. Entries are
// files, <dir>/<network>/<container>.json, written when the container
// joins the network and removed when it leaves, so that every resolver on
// the host sees the same thing without a daemon to ask.
type Entry struct {
	Network   string
	Container string // its ID
	// Names are what resolve to Address on Network: the container's name,
	// short ID, hostname, its network aliases (a compose service's name is
	// one) and the names of links.
	Names    []string
	Address  netip.Addr
	Internal bool // the network has no way out: nothing is forwarded for it
}

// WriteEntry records e under dir, atomically: a reader sees the whole
// entry or none. Entries describe running containers only, so they live
// in memory-backed /run and are not synced to disk.
func WriteEntry(dir string, e Entry) error {
	if err := os.MkdirAll(filepath.Join(dir, e.Network), 0o755); err != nil {
		return err
	}
	data, _ := json.Marshal(e)
	path := entryPath(dir, e.Network, e.Container)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// RemoveEntry forgets the container on network; one already gone is no
// error.
func RemoveEntry(dir, network, container string) error {
	if err := os.Remove(entryPath(dir, network, container)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func entryPath(dir, network, container string) string {
	return filepath.Join(dir, network, container+".json")
}

// Table is the entries under a directory, kept in memory and read again
// after fsnotify reports a change, so that a started container is found
// and a stopped one gone with the next query, without reading the files
// for every query.
type Table struct {
	dir     string
	w       *fsnotify.Watcher
	stale   atomic.Bool
	mu      sync.Mutex
	entries []Entry
	gen     uint64 // counts reloads, so that views built on entries know when they are stale
}

// OpenTable watches the entries under dir, which it makes if missing.
// Where inotify is out of instances (fs.inotify.max_user_instances, 128 by
// default, one per running container's resolver), the table reads the
// files for every query instead: slower, never wrong. Close stops it.
func OpenTable(dir string) (*Table, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	t := &Table{dir: dir}
	t.stale.Store(true)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return t, nil
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return t, nil
	}
	t.w = w
	go t.watch()
	return t, nil
}

// watch marks the table stale on every change. fsnotify does not recurse,
// so each network's directory is watched as it appears (and read, as its
// first entries may predate the watch).
func (t *Table) watch() {
	for {
		select {
		case ev, ok := <-t.w.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Create) && filepath.Dir(ev.Name) == t.dir {
				t.w.Add(ev.Name)
			}
			t.stale.Store(true)
		case _, ok := <-t.w.Errors:
			if !ok {
				return
			}
			t.stale.Store(true) // events lost: read everything again
		}
	}
}

// Close stops watching.
func (t *Table) Close() error {
	if t.w == nil {
		return nil
	}
	return t.w.Close()
}

// Entries are the current entries.
func (t *Table) Entries() []Entry {
	entries, _ := t.Snapshot()
	return entries
}

// Snapshot is the current entries and their generation, which changes
// whenever they are read again.
func (t *Table) Snapshot() ([]Entry, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stale.Swap(false) || t.w == nil {
		t.entries = t.read()
		t.gen++
	}
	return t.entries, t.gen
}

func (t *Table) read() []Entry {
	nets, _ := os.ReadDir(t.dir)
	var out []Entry
	for _, n := range nets {
		if !n.IsDir() {
			continue
		}
		sub := filepath.Join(t.dir, n.Name())
		if t.w != nil {
			t.w.Add(sub) // again is harmless; a directory made before the watch
		}
		files, _ := os.ReadDir(sub)
		for _, f := range files {
			if !strings.HasSuffix(f.Name(), ".json") {
				continue // a temporary file being written
			}
			data, err := os.ReadFile(filepath.Join(sub, f.Name()))
			if err != nil {
				continue // removed meanwhile
			}
			var e Entry
			if json.Unmarshal(data, &e) == nil {
				out = append(out, e)
			}
		}
	}
	return out
}

// Sweep removes the entries of containers that keep says are gone: what a
// process killed between a container's removal steps left (the entry is
// the last trace of a container whose record is deleted). Called by the
// sweep of the container store (container.Manager.Sweep), which knows
// which containers exist.
func Sweep(dir string, keep func(container string) bool) {
	nets, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, n := range nets {
		if !n.IsDir() {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(dir, n.Name()))
		for _, f := range files {
			id, ok := strings.CutSuffix(strings.TrimSuffix(f.Name(), ".tmp"), ".json")
			if ok && !keep(id) {
				os.Remove(filepath.Join(dir, n.Name(), f.Name()))
			}
		}
	}
}

// RemoveContainer forgets the container on every network, those its
// state no longer names included.
func RemoveContainer(dir, container string) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*", container+".json"))
	for _, p := range paths {
		os.Remove(p)
	}
}
