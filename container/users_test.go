package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/volumes"
)

// TestInUseFailsClosed: a container whose record cannot be read (a
// create in progress, a damaged record) makes every in-use check an
// error, never "unused": a prune must not take the image or volume that
// create is about to use. A container being removed by a live process,
// and what a killed command left half-made, are left out.
func TestInUseFailsClosed(t *testing.T) {
	ctx := context.Background()
	m, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	img := v1.Hash{Algorithm: "sha256", Hex: "ab"}
	rec := &Record{ID: NewID(), Name: "user", Created: time.Now(), ImageID: img.String(), Volumes: []volumes.Used{{Name: "data", Target: "/data"}}}
	rec.Spec.Rootfs.Lowers = []string{filepath.Join(m.root, "snapshots", "cd", "fs")}
	if err := m.Store.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := m.Store.writeState(rec.ID, State{Status: Running, Networks: map[string]Endpoint{"front": {}}, BootID: BootID()}); err != nil {
		t.Fatal(err)
	}
	check := func(wantErr bool) {
		t.Helper()
		users, verr := m.VolumeUsers("data")
		used, ierr := m.ImageInUse(img)
		snaps, serr := m.SnapshotsInUse()
		net, nerr := m.NetworkUsers(ctx, "front")
		for _, err := range []error{verr, ierr, serr, nerr} {
			if wantErr && !errors.Is(err, ErrConflict) || !wantErr && err != nil {
				t.Errorf("in-use check: %v (want an error: %v)", err, wantErr)
			}
		}
		if !wantErr && (len(users) != 1 || !used || !snaps["cd"] || len(net) != 1) {
			t.Errorf("in use: volume %v, image %v, snapshots %v, network %v", users, used, snaps, net)
		}
	}
	check(false)
	// a create under way, by a live process (this one): its directory,
	// no record yet
	making := NewID()
	if err := os.MkdirAll(filepath.Join(m.Store.dir, making), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := m.Store.begin(ctx, making, "create", nil); err != nil {
		t.Fatal(err)
	}
	check(true)
	// the same directory, a remove under way by a live process: left out
	if err := m.Store.begin(ctx, making, "remove", nil); err != nil {
		t.Fatal(err)
	}
	check(false)
	// what a killed command left, no process acting on it: the sweep's,
	// using nothing
	m.Store.done(making)
	check(false)
	// a record that is there but cannot be read: what it uses is unknown
	if err := os.WriteFile(filepath.Join(m.Store.dir, making, "config.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	check(true)
}
