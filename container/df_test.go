package container

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/volumes"
)

// TestDiskUsage: system df counts each container's writable layer and
// each volume by what its files take; a volume a container names is
// active, and only what the unused ones take is reclaimable.
func TestDiskUsage(t *testing.T) {
	ctx := context.Background()
	m, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	write := func(dir string, n int) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(strings.Repeat("x", n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	used, err := m.Volumes.Create(ctx, "used", volumes.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unused, err := m.Volumes.Create(ctx, "unused", volumes.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	write(used.Mountpoint, 10)
	write(unused.Mountpoint, 5)
	id := record.NewID()
	upper := filepath.Join(m.Store.Dir(id), "upper")
	rec := &record.Record{ID: id, Name: "df-" + id[:8], Volumes: []record.Volume{{Name: "used", Target: "/data"}}}
	rec.Spec.Rootfs.Upper = upper
	if err := m.Store.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	write(upper, 100)

	du, err := m.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (disk.Usage{Total: 1, Size: 100, Reclaimable: 100}); du.ContainersUsed != want {
		t.Errorf("containers %+v, want %+v", du.ContainersUsed, want)
	}
	if want := (disk.Usage{Total: 2, Active: 1, Size: 15, Reclaimable: 5}); du.VolumesUsed != want {
		t.Errorf("volumes %+v, want %+v", du.VolumesUsed, want)
	}
	links := map[string]int{}
	for _, v := range du.Volumes {
		links[v.Name] = v.Links
	}
	if links["used"] != 1 || links["unused"] != 0 || len(du.Containers) != 1 || du.Containers[0].Size != 100 {
		t.Errorf("rows: volumes %v, containers %+v", links, du.Containers)
	}
}
