package engine

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/volumes"
)

// This machine's parts (parts.go): thin adapters over the container
// manager, the network store and the volume and image stores of one berth
// root.

// localContainers are the manager's containers; its Remove takes the
// volumes as a flag of its own.
type localContainers struct{ *container.Manager }

func (c localContainers) Remove(ctx context.Context, ref string, force, volumes bool) error {
	return c.Manager.Remove(ctx, ref, force, volumes)
}

// localNetworks is the host's network store, opened for one operation;
// a network's users are the manager's running containers on it.
type localNetworks struct {
	store *netns.Store
	m     *container.Manager
}

func openNetworks(root string, m *container.Manager) func() (Networks, func(), error) {
	return func() (Networks, func(), error) {
		s, done, err := netns.OpenHost(filepath.Join(root, "networks"))
		if err != nil {
			return nil, nil, err
		}
		return localNetworks{s, m}, done, nil
	}
}

func (n localNetworks) Get(_ context.Context, ref string) (netns.Network, error) {
	return n.store.Get(ref)
}

func (n localNetworks) List(context.Context) ([]netns.Network, error) { return n.store.List() }

func (n localNetworks) Create(ctx context.Context, o netns.CreateOptions) error {
	_, err := n.store.Create(ctx, o)
	return err
}

func (n localNetworks) Ensure(ctx context.Context, nw netns.Network) (bool, error) {
	return n.store.Ensure(ctx, nw)
}

func (n localNetworks) Remove(ctx context.Context, ref string) error {
	_, err := n.store.Remove(ctx, ref, func(network string) ([]string, error) { return n.m.NetworkUsers(ctx, network) })
	return err
}

func (n localNetworks) CheckFirewall(ctx context.Context) error { return n.store.CheckFirewall(ctx) }

// localVolumes is the manager's volume store; a volume's users are the
// manager's containers that mount it.
type localVolumes struct{ m *container.Manager }

func (v localVolumes) Get(_ context.Context, name string) (volumes.Volume, error) {
	return v.m.Volumes.Get(name)
}

func (v localVolumes) List(context.Context) ([]volumes.Volume, error) { return v.m.Volumes.List() }

func (v localVolumes) Create(ctx context.Context, name string, o volumes.CreateOptions) error {
	_, err := v.m.Volumes.Create(ctx, name, o)
	return err
}

func (v localVolumes) Remove(ctx context.Context, name string) error {
	users, err := v.m.VolumeUsers(name)
	if err != nil {
		return err
	}
	return v.m.Volumes.Remove(ctx, name, users)
}

// localImages are the root's image store, as the manager sees it; a
// removal keeps what the manager's containers use.
type localImages struct {
	root string
	m    *container.Manager
}

func (i localImages) ID(ref string) string        { return i.m.ImageID(ref) }
func (i localImages) Tagged(ref string) time.Time { return i.m.ImageTagged(ref) }

func (i localImages) Ensure(ctx context.Context, ref, policy string, progress api.Progress) error {
	return i.m.EnsureImage(ctx, ref, policy, progress)
}

func (i localImages) Push(ctx context.Context, ref string, progress api.Progress) error {
	store, _, err := image.OpenRoot(i.root)
	if err != nil {
		return err
	}
	_, err = image.Push(ctx, store, ref, image.PushOptions{Progress: progress})
	return err
}

func (i localImages) Size(ref string) (int64, error) {
	store, _, err := image.OpenRoot(i.root)
	if err != nil {
		return 0, err
	}
	if _, img, err := store.Lookup(ref); err == nil {
		return image.UnpackedSize(store, img), nil
	}
	return -1, nil
}

func (i localImages) Remove(ctx context.Context, ref string) error {
	store, snaps, err := image.OpenRoot(i.root)
	if err != nil {
		return err
	}
	_, err = image.Remove(ctx, store, snaps, []string{ref}, image.RemoveOptions{InUse: i.m.ImageInUse, Keep: i.m.SnapshotsInUse})
	return err
}

// localEvents watches the containers' record and state files with
// fsnotify: no daemon sends their changes.
type localEvents struct {
	root string
	m    *container.Manager
}

func (l localEvents) Watch(ctx context.Context, fn func(Change) error) error {
	dir := filepath.Join(l.root, "containers")
	os.MkdirAll(dir, 0o700)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		return err
	}
	// the containers reported, whose removal is reported once
	seen := map[string]bool{}
	entries, _ := os.ReadDir(dir)
	for _, d := range entries {
		w.Add(filepath.Join(dir, d.Name()))
		if ent, err := l.m.Store.Get(d.Name()); err == nil {
			seen[d.Name()] = true
			if err := fn(Change{ID: d.Name(), Entry: ent, Existing: true}); err != nil {
				return err
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-w.Errors:
			return err
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			id := filepath.Base(filepath.Dir(ev.Name))
			if filepath.Dir(ev.Name) == dir {
				id = filepath.Base(ev.Name)
				if ev.Has(fsnotify.Create) {
					w.Add(ev.Name)
				}
			}
			ent, err := l.m.Store.Get(id)
			switch {
			case err == nil:
				seen[id] = true
				err = fn(Change{ID: id, Entry: ent})
			case seen[id] && !exists(filepath.Join(dir, id)):
				delete(seen, id)
				err = fn(Change{ID: id, Gone: true})
			default:
				// unreadable for a moment (being written): the write's
				// own event comes next
				err = nil
			}
			if err != nil {
				return err
			}
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
