package container

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/dns"
	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/volumes"
)

// Crash safety (see the package doc): creating and removing a container
// take several steps (volumes made and filled through a mounted view of
// the image, the record and state written, etc files; the runtime's
// mounts, cgroup and networks undone, the directory and anonymous volumes
// deleted), and a process killed between two of them must not leave
// something that no command sees. So each first writes an intent,
// <root>/containers/.intents/<id>.json, naming the process that acts (PID
// and start time) and the anonymous volumes it names ahead of making them
// (a create's) or takes with the container (rm -v's); the image view a
// create mounts is <id>.view beside it. The last step removes the intent.
// An intent whose process is gone is finished by Sweep: a create is
// rolled back and a remove carried through, which is the same work,
// since either way the container goes, every step of it idempotent.

// intent is what one multi-step change of a container is about.
type intent struct {
	Op    string // "create" or "remove"
	Pid   int
	Start uint64
	// Boot is the kernel's boot ID: after a reboot, a PID and start time
	// may be another process's.
	Boot string
	// Volumes are anonymous volumes that go with the container unless a
	// container uses them: those a create names before making them, or
	// those rm -v removes.
	Volumes []string `json:",omitempty"`
}

func (m *Manager) intents() string             { return filepath.Join(m.Store.Root(), ".intents") }
func (m *Manager) intentPath(id string) string { return filepath.Join(m.intents(), id+".json") }

// viewPath is where a create mounts the read-only view of its image's
// layers that volumes are filled from (copy-up).
func (m *Manager) viewPath(id string) string { return filepath.Join(m.intents(), id+".view") }

// begin records the intent to op (create, remove) container id, before
// the first step that changes anything. It is written under the store's
// lock, so that a sweep, which takes it too, meets no temporary file of
// the write but a dead process's.
func (m *Manager) begin(ctx context.Context, id, op string, vols []string) error {
	if err := os.MkdirAll(m.intents(), 0o700); err != nil {
		return err
	}
	it := intent{Op: op, Pid: os.Getpid(), Boot: monitor.BootID(), Volumes: vols}
	it.Start, _ = runtime.StartTime(it.Pid)
	data, _ := json.Marshal(it)
	unlock, err := m.Store.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return disk.WriteFile(m.intentPath(id), data, 0o600)
}

// done forgets the intent once its last step is taken.
func (m *Manager) done(id string) {
	if err := os.Remove(m.intentPath(id)); err == nil {
		disk.SyncDir(m.intents())
	}
}

// readIntent is container id's intent; ok is false when there is none.
func (m *Manager) readIntent(id string) (it intent, ok bool) {
	data, err := os.ReadFile(m.intentPath(id))
	if err != nil {
		return it, false
	}
	// a torn intent cannot be: it is written by rename
	return it, json.Unmarshal(data, &it) == nil
}

// acting reports whether the process that recorded it still runs (the
// same process, by its start time).
func (it intent) acting() bool {
	if it.Boot != monitor.BootID() {
		return false
	}
	if !monitor.Alive(it.Pid) {
		return false
	}
	start, err := runtime.StartTime(it.Pid)
	return err == nil && start == it.Start
}

// Sweep finishes what berth commands killed half-way left, so that the
// next command (every one that opens the store through the CLI runs it
// first) sees nothing half-made. It takes, in turn:
//
//   - intents whose process is gone: the container is removed, whatever
//     step it was at (see intent), with its runtime leftovers (rootfs and
//     /dev/shm mounts, cgroup, libcontainer state, network namespace,
//     addresses, DNS entries), its image view and the anonymous volumes
//     the intent names that no container uses;
//   - container directories without a whole record (no config.json or no
//     state.json) and no intent: left by a berth without intents, or a
//     removal that got that far; removed the same way;
//   - runtime state, network namespaces, DNS entries, published ports and
//     addresses of containers that have no directory and no intent;
//   - image views of an older berth (<root>/image-view-*);
//   - the volume store's own leftovers (volumes.Store.Sweep).
//
// Work in progress is never touched: it has a live intent, or a whole
// record. The usual case, nothing to do, costs a few directory reads and
// takes no lock.
func (m *Manager) Sweep(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx) // half a clean-up is what it is there to end
	var gone, torn []string
	if entries, err := os.ReadDir(m.intents()); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				torn = append(torn, e.Name()) // a write's temporary file
				continue
			}
			id, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok {
				continue
			}
			if it, ok := m.readIntent(id); !ok || !it.acting() {
				gone = append(gone, id) // not ok: unreadable, no process's
			}
		}
	}
	err := m.Store.Each(func(id string, _ record.Entry, err error) error {
		if err != nil && !m.hasIntent(id) && errors.Is(err, os.ErrNotExist) {
			gone = append(gone, id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(gone) > 0 || len(torn) > 0 {
		// under the store's lock, which Create takes to write a record
		// and begin an intent: two sweeps take turns, no record appears
		// meanwhile, and a temporary file is no live write's
		unlock, err := m.Store.Lock(ctx)
		if err != nil {
			return err
		}
		for _, name := range torn {
			os.Remove(filepath.Join(m.intents(), name))
		}
		for _, id := range gone {
			it, ok := m.readIntent(id)
			if ok && it.acting() {
				continue
			}
			e, err := m.Store.Load(id)
			if !ok && !m.hasIntent(id) && err == nil {
				continue // whole after all: made by a berth that writes no intent
			}
			if err == nil && it.Op == "create" && (e.State.Status != record.Created || keeperOf(e.State) || monitor.Of(e.State, id)) {
				// whole, and started by a command that saw it before this
				// sweep: in use, so kept as it is
				m.done(id)
				continue
			}
			m.finish(ctx, id, it.Volumes)
		}
		unlock()
	}
	m.sweepRuntime()
	if legacy, _ := filepath.Glob(filepath.Join(m.root, "image-view-*")); len(legacy) > 0 {
		for _, v := range legacy {
			runtime.Unmount(v)
			os.Remove(v)
		}
	}
	return m.Volumes.Sweep(ctx)
}

// hasIntent reports whether container id has an intent file at all.
func (m *Manager) hasIntent(id string) bool {
	_, err := os.Lstat(m.intentPath(id))
	return err == nil
}

// known reports whether container id exists or is being made or removed.
func (m *Manager) known(id string) bool {
	if _, err := os.Lstat(m.Store.Dir(id)); err == nil {
		return true
	}
	return m.hasIntent(id)
}

// finish removes container id and everything it has, from whatever step
// a create or a remove stopped at, then its intent: each step is one that
// may already have been taken.
// On an error the intent stays, for the next sweep.
func (m *Manager) finish(ctx context.Context, id string, vols []string) error {
	view := m.viewPath(id)
	runtime.Unmount(view)
	os.Remove(view)
	monitor.CleanRuntime(m.root, m.Store, id)
	if err := m.Store.Delete(id); err != nil {
		return err
	}
	crash.Point("remove-volumes")
	for _, name := range vols {
		users, err := m.VolumeUsers(name)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			if err := m.Volumes.Remove(ctx, name, nil); err != nil && !errors.Is(err, volumes.ErrNotFound) {
				return err
			}
		}
	}
	m.done(id)
	return nil
}

// AutoRemove is how a monitor removes its --rm container once it has
// stopped for good (monitor.Remove): autoRemove, by a Manager of root.
func AutoRemove(ctx context.Context, root string, rec record.Record) error {
	m, err := Open(root, nil)
	if err != nil {
		return err
	}
	return m.autoRemove(ctx, rec)
}

// autoRemove removes a --rm container that has exited, its anonymous
// volumes with it, as a removal with an intent: a monitor killed half-way
// leaves it to the next sweep.
func (m *Manager) autoRemove(ctx context.Context, rec record.Record) error {
	var vols []string
	for _, u := range rec.Volumes {
		if u.Anonymous {
			vols = append(vols, u.Name)
		}
	}
	if err := m.begin(ctx, rec.ID, "remove", vols); err != nil {
		return err
	}
	return m.finish(context.WithoutCancel(ctx), rec.ID, vols)
}

// sweepRuntime removes the runtime's state (cgroup included), network
// namespaces and DNS entries of containers that are neither there nor
// being made or removed.
func (m *Manager) sweepRuntime() {
	run := monitor.RunDir(m.root)
	if entries, err := os.ReadDir(run); err == nil {
		for _, e := range entries {
			if isID(e.Name()) && !m.known(e.Name()) {
				monitor.CleanRuntime(m.root, m.Store, e.Name())
			}
		}
	}
	if entries, err := os.ReadDir(filepath.Join(run, "netns")); err == nil {
		for _, e := range entries {
			if isID(e.Name()) && !m.known(e.Name()) {
				netns.RemoveNamespace(monitor.NSPath(m.root, e.Name()))
			}
		}
	}
	dns.Sweep(monitor.DNSDir(m.root), m.known)
	// an owner that is not a container ID (a build's step) is not the
	// container store's to judge
	netns.Sweep(context.Background(), filepath.Join(m.root, "networks"), func(id string) bool { return !isID(id) || m.known(id) })
}

// isID reports whether name is a container ID (64 hex digits), as the
// runtime's directory names its containers among its own files.
func isID(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, c := range name {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
