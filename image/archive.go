package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-dev/berth/tarfs"
)

// dockerManifest is one entry of a Docker archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Save writes the named images as one tar archive that is both an OCI image
// layout (oci-layout, index.json, blobs/) and a Docker archive (manifest.json
// naming the same blobs), as `docker save` writes since Docker 25: `docker
// load`, berth and OCI tools all read it.
func Save(ctx context.Context, s *Store, names []string, w io.Writer) error {
	return save(ctx, s, names, w, true)
}

// SaveOCI writes the named images as an OCI image layout alone, with no
// manifest.json: the archive docker buildx's oci exporter writes.
func SaveOCI(ctx context.Context, s *Store, names []string, w io.Writer) error {
	return save(ctx, s, names, w, false)
}

func save(ctx context.Context, s *Store, names []string, w io.Writer, docker bool) error {
	tw := tar.NewWriter(w)
	written := map[v1.Hash]bool{}
	var index []v1.Descriptor
	var manifests []dockerManifest
	byManifest := map[v1.Hash]int{}
	for _, n := range names {
		ref, img, err := s.Lookup(n)
		if err != nil {
			return err
		}
		m, err := img.Manifest()
		if err != nil {
			return err
		}
		blobs := append([]v1.Descriptor{ref.Manifest, m.Config}, m.Layers...)
		for _, b := range blobs {
			if written[b.Digest] {
				continue
			}
			if err := writeBlobEntry(tw, s, b); err != nil {
				return err
			}
			written[b.Digest] = true
		}
		tag := ""
		if !strings.HasPrefix(ref.Name, "sha256:") && !strings.Contains(ref.Name, "@") {
			tag = FamiliarName(ref.Name)
		}
		d := ref.Manifest
		d.Annotations = map[string]string{"io.containerd.image.name": ref.Name}
		if tag != "" {
			d.Annotations[refNameAnnotation] = tag[strings.LastIndex(tag, ":")+1:]
		}
		index = append(index, d)
		if i, ok := byManifest[ref.Manifest.Digest]; ok {
			if tag != "" {
				manifests[i].RepoTags = append(manifests[i].RepoTags, tag)
			}
			continue
		}
		dm := dockerManifest{Config: blobName(m.Config.Digest)}
		if tag != "" {
			dm.RepoTags = []string{tag}
		}
		for _, l := range m.Layers {
			dm.Layers = append(dm.Layers, blobName(l.Digest))
		}
		byManifest[ref.Manifest.Digest] = len(manifests)
		manifests = append(manifests, dm)
	}
	idx, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: index})
	mj, _ := json.Marshal(manifests)
	files := []struct {
		name string
		data []byte
	}{{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {"index.json", idx}, {"manifest.json", mj}}
	if !docker {
		files = files[:2]
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

func blobName(h v1.Hash) string { return path.Join("blobs", h.Algorithm, h.Hex) }

func writeBlobEntry(tw *tar.Writer, s *Store, d v1.Descriptor) error {
	f, err := s.OpenBlob(d.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: blobName(d.Digest), Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// Load reads a Docker archive (docker save, either era) or an OCI archive
// into the store, unpacks the images and returns the names it loaded (an
// image without a name is loaded as its ID, sha256:...). Every blob is
// verified on the way in; an archive that is truncated, names a path outside
// itself or refers to missing content fails and leaves no reference.
func Load(ctx context.Context, s *Store, snaps *Snapshots, r io.Reader) ([]string, error) {
	dir, err := os.MkdirTemp(s.dir, "load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := extractArchive(ctx, r, dir); err != nil {
		return nil, err
	}
	unlock, err := s.lockShared(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	type loaded struct {
		names []string
		desc  v1.Descriptor
	}
	var images []loaded
	if data, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err == nil {
		var ms []dockerManifest
		if err := json.Unmarshal(data, &ms); err != nil {
			return nil, wrap(ErrInvalid, err, fmt.Sprintf("archive manifest.json: %v", err))
		}
		for _, m := range ms {
			d, err := loadDockerImage(ctx, s, dir, m)
			if err != nil {
				return nil, err
			}
			images = append(images, loaded{m.RepoTags, d})
		}
	} else if data, err := os.ReadFile(filepath.Join(dir, "index.json")); err == nil {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(data))
		if err != nil {
			return nil, wrap(ErrInvalid, err, fmt.Sprintf("archive index.json: %v", err))
		}
		for _, d := range idx.Manifests {
			d, err := loadOCIImage(ctx, s, dir, d)
			if err != nil {
				return nil, err
			}
			var names []string
			if n := d.Annotations["io.containerd.image.name"]; n != "" {
				names = []string{n}
			}
			d.Annotations = nil
			images = append(images, loaded{names, d})
		}
	} else {
		return nil, wrap(ErrInvalid, nil, "archive has neither manifest.json nor index.json: not an image archive")
	}
	var out []string
	for _, im := range images {
		img, err := s.Image(im.desc.Digest)
		if err != nil {
			return nil, err
		}
		if err := snaps.Prepare(ctx, s, img, nil); err != nil {
			return nil, err
		}
		names := im.names
		if len(names) == 0 {
			id, _ := img.ConfigName()
			names = []string{id.String()}
		}
		for _, n := range names {
			full := n
			if !strings.HasPrefix(n, "sha256:") {
				r, err := ParseReference(n)
				if err != nil {
					return nil, err
				}
				full = FullName(r)
			}
			if err := s.SetRef(ctx, full, im.desc); err != nil {
				return nil, err
			}
			out = append(out, full)
		}
	}
	return out, nil
}

// loadDockerImage stores the config and layers one manifest.json entry names
// and writes a manifest for them.
func loadDockerImage(ctx context.Context, s *Store, dir string, m dockerManifest) (v1.Descriptor, error) {
	cfgData, err := readArchiveFile(dir, m.Config)
	if err != nil {
		return v1.Descriptor{}, err
	}
	cfgDesc, err := s.WriteBlobBytes(ctx, types.DockerConfigJSON, cfgData)
	if err != nil {
		return v1.Descriptor{}, err
	}
	manifest := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2, Config: cfgDesc}
	for _, l := range m.Layers {
		p, err := archivePath(dir, l)
		if err != nil {
			return v1.Descriptor{}, err
		}
		f, err := os.Open(p)
		if err != nil {
			return v1.Descriptor{}, wrap(ErrInvalid, err, fmt.Sprintf("archive layer %s: %v", l, err))
		}
		h, size, err := v1.SHA256(f)
		f.Close()
		if err != nil {
			return v1.Descriptor{}, err
		}
		if err := s.Ingest(ctx, h, size, func() (io.ReadCloser, error) { return os.Open(p) }); err != nil {
			return v1.Descriptor{}, err
		}
		mt := types.DockerUncompressedLayer
		if compressed(p) {
			mt = types.DockerLayer
		}
		manifest.Layers = append(manifest.Layers, v1.Descriptor{MediaType: mt, Digest: h, Size: size})
	}
	raw, err := json.Marshal(manifest)
	if err != nil {
		return v1.Descriptor{}, err
	}
	return s.WriteBlobBytes(ctx, types.DockerManifestSchema2, raw)
}

// loadOCIImage copies an image of an OCI layout into the store, choosing this
// machine's platform when the descriptor is an index.
func loadOCIImage(ctx context.Context, s *Store, dir string, d v1.Descriptor) (v1.Descriptor, error) {
	raw, err := readArchiveFile(dir, blobName(d.Digest))
	if err != nil {
		return v1.Descriptor{}, err
	}
	if d.MediaType.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return v1.Descriptor{}, wrap(ErrInvalid, err, fmt.Sprintf("archive index %s: %v", d.Digest, err))
		}
		host, _ := parsePlatform("")
		for _, c := range idx.Manifests {
			if c.Platform == nil || c.Platform.Satisfies(*host) {
				c.Annotations = d.Annotations
				return loadOCIImage(ctx, s, dir, c)
			}
		}
		return v1.Descriptor{}, wrap(ErrNotFound, nil, fmt.Sprintf("archive index %s has no image for %s", d.Digest, host))
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, wrap(ErrInvalid, err, fmt.Sprintf("archive manifest %s: %v", d.Digest, err))
	}
	for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		p, err := archivePath(dir, blobName(b.Digest))
		if err != nil {
			return v1.Descriptor{}, err
		}
		if err := s.Ingest(ctx, b.Digest, b.Size, func() (io.ReadCloser, error) { return os.Open(p) }); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return v1.Descriptor{}, wrap(ErrInvalid, err, fmt.Sprintf("archive lacks blob %s", b.Digest))
			}
			return v1.Descriptor{}, err
		}
	}
	if err := s.WriteBlob(ctx, d.Digest, d.Size, bytes.NewReader(raw)); err != nil {
		return v1.Descriptor{}, err
	}
	return d, nil
}

// extractArchive unpacks an image archive's regular files into dir. Links,
// devices and names that leave the archive are refused: an image archive
// has no business holding them.
func extractArchive(ctx context.Context, r io.Reader, dir string) error {
	rc, err := decompress(r)
	if err != nil {
		return wrap(ErrInvalid, err, fmt.Sprintf("reading archive: %v", err))
	}
	defer rc.Close()
	n := 0
	err = fromTarfs(tarfs.EachEntry(ctx, rc, "archive", func(hdr *tar.Header, body io.Reader) error {
		n++
		rel, err := tarfs.EntryName(hdr.Name)
		if err != nil {
			return wrap(ErrInvalid, err, fmt.Sprintf("archive entry %q leaves the archive", hdr.Name))
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil // directories, links and the like: never followed, never needed
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return wrap(ErrInvalid, err, fmt.Sprintf("archive entry %q: %v", hdr.Name, err))
		}
		_, err = io.Copy(f, body)
		f.Close()
		if err != nil {
			return wrap(ErrInvalid, err, fmt.Sprintf("reading archive entry %q: %v", hdr.Name, err))
		}
		return nil
	}))
	if err != nil {
		return err
	}
	if n == 0 {
		return wrap(ErrInvalid, nil, "archive is empty")
	}
	return nil
}

// archivePath resolves a path named inside an archive, refusing one that
// leaves it.
func archivePath(dir, name string) (string, error) {
	rel, err := tarfs.EntryName(name)
	if err != nil {
		return "", wrap(ErrInvalid, err, fmt.Sprintf("archive names %q, outside itself", name))
	}
	return filepath.Join(dir, rel), nil
}

func readArchiveFile(dir, name string) ([]byte, error) {
	p, err := archivePath(dir, name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, wrap(ErrInvalid, err, fmt.Sprintf("archive lacks %s", name))
	}
	return data, nil
}

func compressed(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	magic = magic[:n]
	return bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) || bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd})
}
