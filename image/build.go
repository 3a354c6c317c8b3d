package image

import (
	"context"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Hold takes the store's shared lock until the returned function is
// called: a builder holds it while its steps stand on snapshots and on
// layers that no reference names yet, so that no collection removes them.
func (s *Store) Hold(ctx context.Context) (func(), error) { return s.lockShared(ctx) }

// Assemble makes an image whose config is cf and whose layers are base
// (stored already, in cf.RootFS.DiffIDs's order) and then one new layer
// per tar stream that each of more writes; it unpacks them, points every
// one of names at it (none: the image is known by its ID) and returns
// its ID. cf's history is the caller's to match with the layers. extra
// are top-level fields the config gets besides cf's (a builder's inline
// cache record, as BuildKit's moby.buildkit.cache.v0).
func Assemble(ctx context.Context, s *Store, snaps *Snapshots, cf v1.ConfigFile, extra map[string]any, base []v1.Descriptor, more []func(io.Writer) error, names []string) (v1.Hash, error) {
	unlock, err := s.lockShared(ctx)
	if err != nil {
		return v1.Hash{}, err
	}
	defer unlock()
	layers := append([]v1.Descriptor(nil), base...)
	cf.RootFS.DiffIDs = append([]v1.Hash(nil), cf.RootFS.DiffIDs...)
	for _, write := range more {
		l, diffID, err := storeLayer(ctx, s, write)
		if err != nil {
			return v1.Hash{}, err
		}
		layers = append(layers, l)
		cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, diffID)
	}
	var fulls []string
	for _, n := range names {
		_, full, err := configAndName(v1.Config{}, nil, n)
		if err != nil {
			return v1.Hash{}, err
		}
		fulls = append(fulls, full)
	}
	first := ""
	if len(fulls) > 0 {
		first = fulls[0]
	}
	got, err := storeImage(ctx, s, snaps, cf, extra, layers, first)
	if err != nil {
		return v1.Hash{}, err
	}
	ref, img, err := s.Lookup(got)
	if err != nil {
		return v1.Hash{}, err
	}
	for _, full := range fulls[min(1, len(fulls)):] {
		if err := s.SetRef(ctx, full, ref.Manifest); err != nil {
			return v1.Hash{}, err
		}
	}
	return img.ConfigName()
}

// StoreLayer stores the tar stream write produces as a gzip layer blob
// and returns its descriptor and diff ID. The caller holds the store's
// shared lock (Hold) until an image names the layer.
func StoreLayer(ctx context.Context, s *Store, write func(io.Writer) error) (v1.Descriptor, v1.Hash, error) {
	return storeLayer(ctx, s, write)
}
