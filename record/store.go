package record

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/fsnotify/fsnotify"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/match"
)

// Store keeps container records under <root>/containers.
type Store struct {
	dir string
}

// OpenStore opens (creating if needed) the containers directory.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	return &Store{dir: dir}, nil
}

// Root is the containers directory itself, where the store's lock and
// its users' own dot files and directories (the container manager's
// intents) are.
func (s *Store) Root() string { return s.dir }

// Lock takes the store's lock, which Create holds to check a name and
// write a record; unlock releases it.
func (s *Store) Lock(ctx context.Context) (unlock func(), err error) {
	return disk.Lock(ctx, filepath.Join(s.dir, ".lock"), false)
}

// Dir is the container's directory.
func (s *Store) Dir(id string) string { return filepath.Join(s.dir, id) }

// LogPath is the container's json-file log.
func (s *Store) LogPath(id string) string { return filepath.Join(s.dir, id, id+"-json.log") }

// NewID is a container ID: 64 random hex digits, as Docker makes them.
func NewID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// Create writes a new container's record and its "created" state. The name
// must be free; the store lock makes the check and the write one step.
func (s *Store) Create(ctx context.Context, rec *Record) error {
	if !validName.MatchString(rec.Name) {
		return errclass.New(ErrInvalid, "invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", rec.Name)
	}
	unlock, err := s.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	all, err := s.List()
	if err != nil {
		return err
	}
	for _, c := range all {
		if c.Record.Name == rec.Name {
			return errclass.New(ErrConflict, "the container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name", "/"+rec.Name, c.Record.ID)
		}
	}
	dir := s.Dir(rec.ID)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("creating container %s: %w", rec.ID, err)
	}
	data, _ := json.MarshalIndent(rec, "", "  ")
	if err := disk.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		os.RemoveAll(dir)
		return err
	}
	crash.Point("create-config") // a record without a state: no command sees it
	if err := s.writeState(rec.ID, State{Status: Created}); err != nil {
		os.RemoveAll(dir)
		return err
	}
	return nil
}

// Entry is a container as List and Get return it.
type Entry struct {
	Record Record
	State  State
}

// List returns every container, newest first.
func (s *Store) List() ([]Entry, error) {
	var out []Entry
	err := s.Each(func(_ string, e Entry, err error) error {
		if err == nil { // else being created or removed
			out = append(out, e)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b Entry) int { return b.Record.Created.Compare(a.Record.Created) })
	return out, err
}

// Each calls fn for every container's directory (not the store's own
// dot files and directories), with its entry or the error reading it;
// an error from fn ends the walk and is returned.
func (s *Store) Each(fn func(id string, e Entry, err error) error) error {
	dirs, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		e, err := s.Load(d.Name())
		if err := fn(d.Name(), e, err); err != nil {
			return err
		}
	}
	return nil
}

// Get finds a container by full ID, unique ID prefix or name, as Docker does.
func (s *Store) Get(ref string) (Entry, error) {
	ref = strings.TrimPrefix(ref, "/")
	if e, err := s.Load(ref); err == nil {
		return e, nil
	}
	all, err := s.List()
	if err != nil {
		return Entry{}, err
	}
	e, n := match.One(all, ref, func(e Entry) string { return e.Record.Name }, func(e Entry) string { return e.Record.ID })
	switch n {
	case 1:
		return e, nil
	case 0:
		return Entry{}, errclass.New(ErrNotFound, "no such container: %s", ref)
	}
	return Entry{}, errclass.New(ErrInvalid, "multiple containers match %q", ref)
}

// Load reads container id's record and state, by full ID alone, without
// its lock: a state being written is replaced whole (by rename), never
// seen half-written.
func (s *Store) Load(id string) (Entry, error) {
	var e Entry
	data, err := os.ReadFile(filepath.Join(s.dir, id, "config.json"))
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(data, &e.Record); err != nil {
		return e, err
	}
	data, err = os.ReadFile(filepath.Join(s.dir, id, "state.json"))
	if err != nil {
		return e, err
	}
	err = json.Unmarshal(data, &e.State)
	return e, err
}

// Update changes a container's state under its lock and returns the result.
func (s *Store) Update(ctx context.Context, id string, change func(*State) error) (State, error) {
	e, err := s.locked(ctx, id, "state.json", func(e *Entry) any { return &e.State }, func(e *Entry) error { return change(&e.State) })
	return e.State, err
}

// UpdateRecord changes a container's record under its lock: only network
// connect and disconnect do, the rest of a record being fixed at creation.
func (s *Store) UpdateRecord(ctx context.Context, id string, change func(*Record) error) (Record, error) {
	e, err := s.locked(ctx, id, "config.json", func(e *Entry) any { return &e.Record }, func(e *Entry) error { return change(&e.Record) })
	return e.Record, err
}

// locked loads a container under its lock and lets change alter it, then
// writes part (the state or the record) back to file, unless change fails.
// A part change left as it was is not written: an update that only reads
// (the monitor takes the state under the lock this way) then costs no
// fsync and wakes no watcher.
func (s *Store) locked(ctx context.Context, id, file string, part func(*Entry) any, change func(*Entry) error) (Entry, error) {
	unlock, err := disk.Lock(ctx, filepath.Join(s.dir, id, ".lock"), false)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Entry{}, errclass.New(ErrNotFound, "no such container: %s", id)
		}
		return Entry{}, err
	}
	defer unlock()
	e, err := s.Load(id)
	if err != nil {
		return Entry{}, errclass.New(ErrNotFound, "no such container: %s", id)
	}
	// compared as JSON, since change may alter maps and slices in place
	before, _ := json.MarshalIndent(part(&e), "", "  ")
	if err := change(&e); err != nil {
		return e, err
	}
	data, _ := json.MarshalIndent(part(&e), "", "  ")
	if bytes.Equal(data, before) {
		return e, nil
	}
	return e, disk.WriteFile(filepath.Join(s.dir, id, file), data, 0o600)
}

func (s *Store) writeState(id string, st State) error {
	data, _ := json.MarshalIndent(st, "", "  ")
	return disk.WriteFile(filepath.Join(s.dir, id, "state.json"), data, 0o600)
}

// Delete removes a container's directory: record, state, log, upper layer.
// The record goes first, so that a removal cut short leaves no container
// that looks whole; what is left, Manager.Sweep removes.
func (s *Store) Delete(id string) error {
	if err := os.Remove(filepath.Join(s.Dir(id), "config.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing container %s: %w", id, err)
	}
	crash.Point("remove-record")
	if err := os.RemoveAll(s.Dir(id)); err != nil {
		return fmt.Errorf("removing container %s: %w", id, err)
	}
	return nil
}

// Watch calls cond with the container's state now and after each change
// to it, until cond says done or fails, ctx ends, or the container goes.
// It waits on fsnotify, not on a timer: state is written by rename, and
// each rename is an event in the container's directory.
func (s *Store) Watch(ctx context.Context, id string, cond func(State) (bool, error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching container %s: %w", id, err)
	}
	defer w.Close()
	if err := w.Add(s.Dir(id)); err != nil {
		return errclass.New(ErrNotFound, "no such container: %s", id)
	}
	check := func() (bool, error) {
		e, err := s.Load(id)
		if err != nil {
			return false, errclass.New(ErrNotFound, "no such container: %s", id)
		}
		return cond(e.State)
	}
	for {
		if done, err := check(); done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.Events:
			if !ok {
				return errclass.New(ErrNotFound, "no such container: %s", id)
			}
			// the log lives in the same directory: only the state's
			// renames (and the directory's removal) are worth a look
			for ev.Name != filepath.Join(s.Dir(id), "state.json") && ev.Name != s.Dir(id) {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case ev, ok = <-w.Events:
					if !ok {
						return errclass.New(ErrNotFound, "no such container: %s", id)
					}
				}
			}
		case err := <-w.Errors:
			return err
		}
	}
}
