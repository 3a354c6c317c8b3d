package container

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/record"
)

// users are the containers an in-use check looks at: every container,
// or an error (ErrConflict) when one's record cannot be read. List leaves
// such a container out (for ps, a half-made container is not there yet),
// but an in-use check must not: what it uses is unknown, and "unused"
// would let a prune take the image or volume a create is about to use.
// A container being removed (a remove intent whose process still acts)
// is left out: it gives up what it used; so is what a killed command
// left half-made or half-removed (no record file, and no live process
// acting on it), which the sweep rolls back. What remains is a create in
// progress, worth trying again after, or a record that is there but
// unreadable.
func (m *Manager) users() ([]record.Entry, error) {
	var out []record.Entry
	err := m.Store.Each(func(id string, e record.Entry, err error) error {
		if err == nil {
			out = append(out, e)
			return nil
		}
		it, ok := m.readIntent(id)
		switch {
		case ok && it.Op == "remove" && it.acting():
			return nil
		case errors.Is(err, fs.ErrNotExist) && !(ok && it.acting()):
			// half-made or half-removed by a command that is gone (or
			// just removed): the sweep's to finish, using nothing
			return nil
		}
		return errclass.Wrap(ErrConflict, err, "container "+shortID(id)+" is being created or cannot be read: what it uses is not known; try again once it is made")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func shortID(id string) string { return id[:min(len(id), 12)] }

// VolumeUsers names the containers that use volume name; an error when
// that cannot be known (see users).
func (m *Manager) VolumeUsers(name string) ([]string, error) {
	used, err := m.VolumesInUse()
	return used[name], err
}

// VolumesInUse names, for each volume containers use, those containers.
func (m *Manager) VolumesInUse() (map[string][]string, error) {
	all, err := m.users()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, e := range all {
		for _, u := range e.Record.Volumes {
			out[u.Name] = append(out[u.Name], e.Record.Name)
		}
	}
	return out, nil
}

// ImageInUse reports whether a container was made from the image with ID
// id: the form image.RemoveOptions.InUse and image.Prune take.
func (m *Manager) ImageInUse(id v1.Hash) (bool, error) {
	all, err := m.users()
	if err != nil {
		return false, err
	}
	for _, e := range all {
		if e.Record.ImageID == id.String() {
			return true, nil
		}
	}
	return false, nil
}

// SnapshotsInUse are the snapshots (chain IDs, hex) that containers' root
// filesystems stand on.
func (m *Manager) SnapshotsInUse() (map[string]bool, error) {
	all, err := m.users()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, e := range all {
		for _, l := range e.Record.Spec.Rootfs.Lowers {
			out[filepath.Base(filepath.Dir(l))] = true // <root>/snapshots/<chain>/fs
		}
	}
	return out, nil
}

// NetworkUsers are the names of the running containers with an endpoint
// on the network: those that keep it from being removed, as in Docker,
// where a stopped container holds no endpoint.
func (m *Manager) NetworkUsers(ctx context.Context, name string) ([]string, error) {
	// the states as they are, not refreshed: the caller holds the
	// networks' lock, which refreshing a container may need to take (to
	// drop its ports); one a reboot stopped holds nothing
	all, err := m.users()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range all {
		if _, ok := e.State.Networks[name]; ok && e.State.Running() && !fromEarlierBoot(e.State, e.Record.ID) {
			out = append(out, e.Record.Name)
		}
	}
	return out, nil
}

// NetworksInUse are the networks that containers, running or not, were
// made to join, as their records name them (by name or ID): those that
// network prune keeps. An error when that cannot be known (see users).
func (m *Manager) NetworksInUse() (map[string]bool, error) {
	all, err := m.users()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, e := range all {
		for _, n := range e.Record.Host.Networks {
			out[n] = true
		}
	}
	return out, nil
}
