package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
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
	rec := &record.Record{ID: record.NewID(), Name: "user", Created: time.Now(), ImageID: img.String(), Volumes: []record.Volume{{Name: "data", Target: "/data"}}}
	rec.Spec.Rootfs.Lowers = []string{filepath.Join(m.root, "snapshots", "cd", "fs")}
	rec.Host.Networks = []string{"back"}
	if err := m.Store.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Store.Update(ctx, rec.ID, func(s *record.State) error {
		*s = record.State{Status: record.Running, Networks: map[string]record.Endpoint{"front": {}}, BootID: monitor.BootID()}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check := func(wantErr bool) {
		t.Helper()
		users, verr := m.VolumeUsers("data")
		used, ierr := m.ImageInUse(img)
		snaps, serr := m.SnapshotsInUse()
		net, nerr := m.NetworkUsers(ctx, "front")
		nets, nserr := m.NetworksInUse()
		for _, err := range []error{verr, ierr, serr, nerr, nserr} {
			if wantErr && !errors.Is(err, ErrConflict) || !wantErr && err != nil {
				t.Errorf("in-use check: %v (want an error: %v)", err, wantErr)
			}
		}
		if !wantErr && (len(users) != 1 || !used || !snaps["cd"] || len(net) != 1 || !nets["back"]) {
			t.Errorf("in use: volume %v, image %v, snapshots %v, network %v, networks %v", users, used, snaps, net, nets)
		}
	}
	check(false)
	// a create under way, by a live process (this one): its directory,
	// no record yet
	making := record.NewID()
	if err := os.MkdirAll(filepath.Join(m.Store.Root(), making), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := m.begin(ctx, making, "create", nil); err != nil {
		t.Fatal(err)
	}
	check(true)
	// the same directory, a remove under way by a live process: left out
	if err := m.begin(ctx, making, "remove", nil); err != nil {
		t.Fatal(err)
	}
	check(false)
	// what a killed command left, no process acting on it: the sweep's,
	// using nothing
	m.done(making)
	check(false)
	// a record that is there but cannot be read: what it uses is unknown
	if err := os.WriteFile(filepath.Join(m.Store.Root(), making, "config.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	check(true)
}
