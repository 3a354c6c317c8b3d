package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

const (
	refNameAnnotation = "org.opencontainers.image.ref.name"
	createdAnnotation = "io.berth.ref.created"
)

// Store is the content store under <root>/images, in OCI image layout: blobs
// under blobs/sha256, references in index.json.
type Store struct {
	dir string
}

// Ref is one reference in the store.
type Ref struct {
	// Name is the full normalized name, docker.io/library/busybox:latest.
	Name string
	// Manifest is the descriptor of the image manifest the name points at.
	Manifest v1.Descriptor
	// Created is when the reference was last written.
	Created time.Time
}

// OpenStore opens (creating if needed) the store in dir.
func OpenStore(dir string) (*Store, error) {
	for _, d := range []string{filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "ingest")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating image store %q: %w", dir, err)
		}
	}
	s := &Store{dir: dir}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); errors.Is(err, fs.ErrNotExist) {
		if err := writeFileAtomic(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); errors.Is(err, fs.ErrNotExist) {
		if err := s.writeIndex(nil); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) blobPath(h v1.Hash) string {
	return filepath.Join(s.dir, "blobs", h.Algorithm, h.Hex)
}

// HasBlob reports whether the blob is stored.
func (s *Store) HasBlob(h v1.Hash) bool {
	_, err := os.Stat(s.blobPath(h))
	return err == nil
}

// OpenBlob opens a stored blob for reading.
func (s *Store) OpenBlob(h v1.Hash) (*os.File, error) {
	f, err := os.Open(s.blobPath(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, wrap(ErrNotFound, err, fmt.Sprintf("blob %s not found", h))
	}
	return f, err
}

// ReadBlob reads a whole stored blob (manifests and configs).
func (s *Store) ReadBlob(h v1.Hash) ([]byte, error) {
	f, err := s.OpenBlob(h)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// WriteBlob stores r's content as blob h; see Ingest.
func (s *Store) WriteBlob(ctx context.Context, h v1.Hash, size int64, r io.Reader) error {
	return s.Ingest(ctx, h, size, func() (io.ReadCloser, error) { return io.NopCloser(r), nil })
}

// Ingest stores blob h from what open returns. It checks the digest (and the
// size, when size >= 0) before the blob becomes visible, so a short or corrupt
// download leaves nothing behind. Concurrent writers of one blob, in any
// process, take turns, and open is called only by the one that finds the blob
// missing: a second pull of the same layer does not even send its request.
func (s *Store) Ingest(ctx context.Context, h v1.Hash, size int64, open func() (io.ReadCloser, error)) error {
	if h.Algorithm != "sha256" {
		return wrap(ErrInvalid, nil, fmt.Sprintf("unsupported digest algorithm %q", h.Algorithm))
	}
	if s.HasBlob(h) {
		return nil
	}
	unlock, err := lockFile(ctx, filepath.Join(s.dir, "ingest", h.Hex+".lock"), unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if s.HasBlob(h) {
		return nil
	}
	r, err := open()
	if err != nil {
		return err
	}
	defer r.Close()
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "ingest"), h.Hex+".*")
	if err != nil {
		return fmt.Errorf("writing blob %s: %w", h, err)
	}
	defer os.Remove(tmp.Name()) // gone once renamed; removes a failed write
	defer tmp.Close()
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, sum), contextReader{ctx, r})
	if err != nil {
		return fmt.Errorf("writing blob %s: %w", h, err)
	}
	if size >= 0 && n != size {
		return wrap(ErrDigest, nil, fmt.Sprintf("blob %s: got %d bytes, want %d", h, n, size))
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.Hex {
		return wrap(ErrDigest, nil, fmt.Sprintf("blob %s: content has digest sha256:%s", h, got))
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), s.blobPath(h)); err != nil {
		return fmt.Errorf("writing blob %s: %w", h, err)
	}
	return syncDir(filepath.Dir(s.blobPath(h)))
}

// WriteBlobBytes stores data as a blob and returns its descriptor.
func (s *Store) WriteBlobBytes(ctx context.Context, mt types.MediaType, data []byte) (v1.Descriptor, error) {
	h, size, err := v1.SHA256(bytes.NewReader(data))
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := s.WriteBlob(ctx, h, size, bytes.NewReader(data)); err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: h, Size: size}, nil
}

// Refs lists every reference, sorted by name.
func (s *Store) Refs() ([]Ref, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var refs []Ref
	for _, d := range idx.Manifests {
		name := d.Annotations[refNameAnnotation]
		if name == "" {
			continue
		}
		created, _ := time.Parse(time.RFC3339Nano, d.Annotations[createdAnnotation])
		m := d
		m.Annotations = nil
		refs = append(refs, Ref{Name: name, Manifest: m, Created: created})
	}
	slices.SortFunc(refs, func(a, b Ref) int { return strings.Compare(a.Name, b.Name) })
	return refs, nil
}

// SetRef points name at the manifest desc, replacing what it pointed at.
// The manifest and everything it references must already be stored.
func (s *Store) SetRef(ctx context.Context, name string, desc v1.Descriptor) error {
	return s.updateIndex(ctx, func(ds []v1.Descriptor) ([]v1.Descriptor, error) {
		ds = slices.DeleteFunc(ds, func(d v1.Descriptor) bool { return d.Annotations[refNameAnnotation] == name })
		desc.Annotations = map[string]string{refNameAnnotation: name, createdAnnotation: time.Now().UTC().Format(time.RFC3339Nano)}
		return append(ds, desc), nil
	})
}

// DeleteRef removes the reference name.
func (s *Store) DeleteRef(ctx context.Context, name string) error {
	return s.updateIndex(ctx, func(ds []v1.Descriptor) ([]v1.Descriptor, error) {
		n := len(ds)
		ds = slices.DeleteFunc(ds, func(d v1.Descriptor) bool { return d.Annotations[refNameAnnotation] == name })
		if len(ds) == n {
			return nil, wrap(ErrNotFound, nil, fmt.Sprintf("no such image: %s", FamiliarName(name)))
		}
		return ds, nil
	})
}

func (s *Store) readIndex() (*v1.IndexManifest, error) {
	f, err := os.Open(filepath.Join(s.dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("reading image index: %w", err)
	}
	defer f.Close()
	idx, err := v1.ParseIndexManifest(f)
	if err != nil {
		return nil, fmt.Errorf("reading image index %s: %w", f.Name(), err)
	}
	return idx, nil
}

func (s *Store) writeIndex(ds []v1.Descriptor) error {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: ds}
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	data, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir, "index.json"), data)
}

// updateIndex applies change to index.json's descriptors under the index lock.
func (s *Store) updateIndex(ctx context.Context, change func([]v1.Descriptor) ([]v1.Descriptor, error)) error {
	unlock, err := lockFile(ctx, filepath.Join(s.dir, "index.lock"), unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	ds, err := change(idx.Manifests)
	if err != nil {
		return err
	}
	return s.writeIndex(ds)
}

// Image returns the stored image whose manifest is h.
func (s *Store) Image(h v1.Hash) (v1.Image, error) {
	raw, err := s.ReadBlob(h)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, wrap(ErrInvalid, err, fmt.Sprintf("manifest %s: %v", h, err))
	}
	return partial.CompressedToImage(&storedImage{s: s, raw: raw, manifest: m})
}

// Lookup finds an image the way Docker's CLI does: by name (busybox,
// busybox:1.36, a full name or name@digest), or by image ID (config digest),
// full or a unique prefix of at least 4 hex digits.
func (s *Store) Lookup(arg string) (Ref, v1.Image, error) {
	refs, err := s.Refs()
	if err != nil {
		return Ref{}, nil, err
	}
	if r, err := ParseReference(arg); err == nil {
		full := FullName(r)
		for _, ref := range refs {
			if ref.Name == full {
				img, err := s.Image(ref.Manifest.Digest)
				return ref, img, err
			}
		}
	}
	id := strings.TrimPrefix(arg, "sha256:")
	if len(id) >= 4 && isHex(id) {
		// one ID may have several manifests (an image loaded from a
		// Docker archive beside the one built here): the same image; the
		// reference named by the ID itself, when there is one, is it
		var found *Ref
		var foundID v1.Hash
		for i, ref := range refs {
			cfg, err := s.configDigest(ref.Manifest.Digest)
			if err != nil || !strings.HasPrefix(cfg.Hex, id) {
				continue
			}
			if found != nil && foundID != cfg {
				return Ref{}, nil, wrap(ErrInvalid, nil, fmt.Sprintf("image ID prefix %q is ambiguous", arg))
			}
			if found == nil || ref.Name == cfg.String() {
				found, foundID = &refs[i], cfg
			}
		}
		if found != nil {
			img, err := s.Image(found.Manifest.Digest)
			return *found, img, err
		}
	}
	return Ref{}, nil, wrap(ErrNotFound, nil, fmt.Sprintf("no such image: %s", arg))
}

// configDigest is an image's ID: the digest of its config blob.
func (s *Store) configDigest(manifest v1.Hash) (v1.Hash, error) {
	raw, err := s.ReadBlob(manifest)
	if err != nil {
		return v1.Hash{}, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Hash{}, err
	}
	return m.Config.Digest, nil
}

// liveBlobs is every blob a reference needs.
func (s *Store) liveBlobs() (map[v1.Hash]bool, error) {
	refs, err := s.Refs()
	if err != nil {
		return nil, err
	}
	live := map[v1.Hash]bool{}
	for _, r := range refs {
		live[r.Manifest.Digest] = true
		raw, err := s.ReadBlob(r.Manifest.Digest)
		if err != nil {
			return nil, err
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		live[m.Config.Digest] = true
		for _, l := range m.Layers {
			live[l.Digest] = true
		}
	}
	return live, nil
}

// GC removes every blob no reference needs and returns how many bytes it
// freed. It holds the store's exclusive lock, so it waits for pulls under way
// and none starts until it is done.
func (s *Store) GC(ctx context.Context) (int64, error) {
	unlock, err := s.lockExclusive(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	return s.gc()
}

// gc is GC for a caller that holds the exclusive lock.
func (s *Store) gc() (int64, error) {
	live, err := s.liveBlobs()
	if err != nil {
		return 0, err
	}
	dir := filepath.Join(s.dir, "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var freed int64
	// no writer runs under the exclusive lock: what ingest holds is left over
	if err := clearDir(filepath.Join(s.dir, "ingest")); err != nil {
		return 0, err
	}
	for _, e := range entries {
		if live[v1.Hash{Algorithm: "sha256", Hex: e.Name()}] {
			continue
		}
		if info, err := e.Info(); err == nil {
			freed += info.Size()
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return freed, err
		}
	}
	return freed, nil
}

// lockShared is held by work that adds references (pull, load, import) so
// that GC cannot run under it.
func (s *Store) lockShared(ctx context.Context) (func(), error) {
	return lockFile(ctx, filepath.Join(s.dir, "gc.lock"), unix.LOCK_SH)
}

func (s *Store) lockExclusive(ctx context.Context) (func(), error) {
	return lockFile(ctx, filepath.Join(s.dir, "gc.lock"), unix.LOCK_EX)
}

// storedImage is the minimal core go-containerregistry needs to present a
// stored image as a v1.Image.
type storedImage struct {
	s        *Store
	raw      []byte
	manifest *v1.Manifest
}

func (i *storedImage) RawConfigFile() ([]byte, error) { return i.s.ReadBlob(i.manifest.Config.Digest) }
func (i *storedImage) MediaType() (types.MediaType, error) {
	if i.manifest.MediaType != "" {
		return i.manifest.MediaType, nil
	}
	return types.OCIManifestSchema1, nil
}
func (i *storedImage) RawManifest() ([]byte, error) { return i.raw, nil }
func (i *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.manifest.Layers {
		if l.Digest == h {
			return &storedLayer{s: i.s, desc: l}, nil
		}
	}
	if i.manifest.Config.Digest == h {
		return &storedLayer{s: i.s, desc: i.manifest.Config}, nil
	}
	return nil, wrap(ErrNotFound, nil, fmt.Sprintf("blob %s is not part of this image", h))
}

type storedLayer struct {
	s    *Store
	desc v1.Descriptor
}

func (l *storedLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *storedLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *storedLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *storedLayer) Compressed() (io.ReadCloser, error)  { return l.s.OpenBlob(l.desc.Digest) }

func isHex(s string) bool {
	_, err := hex.DecodeString(s + s[:len(s)%2]) // tolerate odd length
	return err == nil
}
