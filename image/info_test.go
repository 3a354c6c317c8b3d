package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/internal/testimage"
)

func TestRemove(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	s, snaps := newStore(t)
	img := testimage.Busybox(t)
	named(t, s, "a:1", img)
	named(t, s, "b:1", img)
	id, _ := img.ConfigName()
	if err := snaps.Prepare(ctx, s, mustStored(t, s, "a:1"), nil); err != nil {
		t.Fatal(err)
	}

	// by ID, two names: refused without -f
	if _, err := Remove(ctx, s, snaps, []string{id.Hex[:12]}, RemoveOptions{}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "referenced in multiple repositories") {
		t.Errorf("rm by ID of a twice-named image: err = %v", err)
	}
	// in use by a container: refused without -f
	inUse := func(h v1.Hash) (bool, error) { return h == id, nil }
	if _, err := Remove(ctx, s, snaps, []string{"a:1"}, RemoveOptions{InUse: inUse}); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "in use by a container") {
		t.Errorf("rm of an image in use: err = %v", err)
	}
	// one name of two: untagged, nothing deleted
	lines, err := Remove(ctx, s, snaps, []string{"a:1"}, RemoveOptions{})
	if err != nil || strings.Join(lines, "|") != "Untagged: a:1" {
		t.Errorf("rm a:1 = %q, %v", lines, err)
	}
	// the last name: untagged and deleted, blobs and snapshots freed
	lines, err = Remove(ctx, s, snaps, []string{"b:1", "nosuch"}, RemoveOptions{})
	if strings.Join(lines, "|") != "Untagged: b:1|Deleted: "+id.String() {
		t.Errorf("rm b:1 = %q", lines)
	}
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("rm of a missing image alongside: err = %v, want ErrNotFound", err)
	}
	if blobs, _ := s.liveBlobs(); len(blobs) != 0 {
		t.Errorf("live blobs after removing every image: %v", blobs)
	}
	m, _ := img.Manifest()
	if s.HasBlob(m.Layers[0].Digest) {
		t.Error("the layer blob outlived its last image")
	}
	cf, _ := img.ConfigFile()
	if snaps.Has(ChainIDs(cf.RootFS.DiffIDs)[0]) {
		t.Error("the snapshot outlived its last image")
	}
}

func mustStored(t *testing.T, s *Store, name string) v1.Image {
	t.Helper()
	_, img, err := s.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestProgressDisplays: plain output is one line per state change, never per
// byte; the terminal display redraws its block of layer lines in place.
func TestProgressDisplays(t *testing.T) {
	var plain bytes.Buffer
	p := NewProgress(&plain, false)
	p.Layer("aaa", "Pulling fs layer", 0, 0)
	for i := int64(1); i <= 100; i++ {
		p.Layer("aaa", "Downloading", i*1000, 100000)
	}
	p.Layer("aaa", "Pull complete", 0, 0)
	p.Line("Digest: sha256:x")
	if got := plain.String(); got != "aaa: Pulling fs layer\naaa: Downloading\naaa: Pull complete\nDigest: sha256:x\n" {
		t.Errorf("plain progress:\n%s", got)
	}

	var tty bytes.Buffer
	p = NewProgress(&tty, true)
	p.Layer("aaa", "Downloading", 500000, 1000000)
	p.Layer("bbb", "Waiting", 0, 0)
	p.Layer("aaa", "Download complete", 0, 0)
	out := tty.String()
	for _, want := range []string{"aaa: Downloading [=========================>                        ]    500kB/1MB", "\x1b[2A", "aaa: Download complete"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal progress lacks %q:\n%q", want, out)
		}
	}
}

// TestDiskUsage: system df counts an image a container was made from as
// active and the others' sizes as reclaimable, never more than the store
// takes, since images share layers.
func TestDiskUsage(t *testing.T) {
	s, _ := newStore(t)
	a := testimage.Image(t, v1.Config{Cmd: []string{"a"}}, testimage.Layer(t, testimage.Entry{Name: "a", Type: tar.TypeReg, Body: strings.Repeat("a", 4096)}))
	b := testimage.Image(t, v1.Config{Cmd: []string{"b"}}, testimage.Layer(t, testimage.Entry{Name: "b", Type: tar.TypeReg, Body: strings.Repeat("b", 4096)}))
	named(t, s, "a:1", a)
	named(t, s, "b:1", b)
	aID, _ := a.ConfigName()
	list, u, err := DiskUsage(s, func(h v1.Hash) (bool, error) { return h == aID, nil })
	if err != nil {
		t.Fatal(err)
	}
	var bSize int64
	for _, im := range list {
		if im.ID == aID.String() {
			continue
		}
		bSize = im.SizeBytes
	}
	if len(list) != 2 || u.Total != 2 || u.Active != 1 || u.Reclaimable != min(bSize, u.Size) || u.Size <= 0 || bSize <= 0 {
		t.Errorf("usage %+v, b's size %d, list %d", u, bSize, len(list))
	}
	// none in use: all of it, at most the store's size
	if _, u, _ = DiskUsage(s, func(v1.Hash) (bool, error) { return false, nil }); u.Active != 0 || u.Reclaimable > u.Size {
		t.Errorf("none in use: %+v", u)
	}
}
