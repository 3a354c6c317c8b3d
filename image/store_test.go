package image

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func newStore(t *testing.T) (*Store, *Snapshots) {
	t.Helper()
	root := t.TempDir()
	s, err := OpenStore(filepath.Join(root, "images"))
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := OpenSnapshots(filepath.Join(root, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	return s, snaps
}

func hashOf(t *testing.T, data []byte) v1.Hash {
	h, _, err := v1.SHA256(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// ingestEmpty fails the test if a write left a temporary file behind.
func ingestEmpty(t *testing.T, s *Store) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(s.Dir(), "ingest"))
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("ingest holds %s after the write", e.Name())
		}
	}
}

func TestWriteBlobVerifies(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	data := []byte("hello blob")
	h := hashOf(t, data)

	if err := s.WriteBlob(ctx, h, int64(len(data)), bytes.NewReader([]byte("tampered!!"))); !errors.Is(err, ErrDigest) {
		t.Errorf("wrong content: err = %v, want ErrDigest", err)
	}
	if err := s.WriteBlob(ctx, h, 99, bytes.NewReader(data)); !errors.Is(err, ErrDigest) {
		t.Errorf("wrong size: err = %v, want ErrDigest", err)
	}
	if s.HasBlob(h) {
		t.Fatal("a rejected blob is in the store")
	}
	ingestEmpty(t, s)

	if err := s.WriteBlob(ctx, h, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadBlob(h)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadBlob = %q, %v", got, err)
	}
	ingestEmpty(t, s)
}

// countingReader counts the bytes drawn from it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestWriteBlobOnceUnderConcurrency(t *testing.T) {
	s, _ := newStore(t)
	data := bytes.Repeat([]byte("x"), 1<<20)
	h := hashOf(t, data)
	var read atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.WriteBlob(context.Background(), h, int64(len(data)), countingReader{bytes.NewReader(data), &read}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if read.Load() != int64(len(data)) {
		t.Errorf("read %d bytes for one blob of %d: concurrent writers did not wait for each other", read.Load(), len(data))
	}
}

func TestRefsAndLookup(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	cfg, _ := s.WriteBlobBytes(ctx, types.OCIConfigJSON, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cfg.Digest.String() + `","size":` + strconv.FormatInt(cfg.Size, 10) + `},"layers":[]}`)
	md, err := s.WriteBlobBytes(ctx, types.OCIManifestSchema1, manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"docker.io/library/busybox:latest", "localhost:5000/app:1"} {
		if err := s.SetRef(ctx, name, md); err != nil {
			t.Fatal(err)
		}
	}
	for _, arg := range []string{"busybox", "busybox:latest", "docker.io/library/busybox", "localhost:5000/app:1", cfg.Digest.Hex[:8], cfg.Digest.String()} {
		ref, img, err := s.Lookup(arg)
		if err != nil {
			t.Errorf("Lookup(%q): %v", arg, err)
			continue
		}
		if id, _ := img.ConfigName(); id != cfg.Digest || ref.Manifest.Digest != md.Digest {
			t.Errorf("Lookup(%q) = %v, image ID %v", arg, ref, id)
		}
	}
	if _, _, err := s.Lookup("nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup(nosuch): err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteRef(ctx, "docker.io/library/busybox:latest"); err != nil {
		t.Fatal(err)
	}
	refs, _ := s.Refs()
	if len(refs) != 1 || refs[0].Name != "localhost:5000/app:1" {
		t.Errorf("refs after delete = %v", refs)
	}
	if freed, err := s.GC(ctx); err != nil || freed != 0 || !s.HasBlob(md.Digest) {
		t.Errorf("GC freed %d (%v) while a reference still needs the blobs", freed, err)
	}
	s.DeleteRef(ctx, "localhost:5000/app:1")
	if freed, err := s.GC(ctx); err != nil || freed == 0 || s.HasBlob(md.Digest) || s.HasBlob(cfg.Digest) {
		t.Errorf("GC after the last reference: freed %d, err %v", freed, err)
	}
}
