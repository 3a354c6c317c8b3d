package image

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// PushOptions shape a push.
type PushOptions struct {
	Progress  Progress
	Transport http.RoundTripper
}

// Push uploads the stored image ref to its registry: layers the registry
// lacks (three at a time), then the config and the manifest. It returns
// the manifest's digest, by which the registry now serves the image.
func Push(ctx context.Context, s *Store, ref string, o PushOptions) (v1.Hash, error) {
	p := o.Progress
	if p == nil {
		p = Quiet
	}
	_, img, err := s.Lookup(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	r, err := ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	opts := remoteOptions(ctx, o.Transport)
	p.Line(fmt.Sprintf("The push refers to repository [%s]", repoName(r)))
	m, err := img.Manifest()
	if err != nil {
		return v1.Hash{}, err
	}
	for i := len(m.Layers) - 1; i >= 0; i-- {
		p.Layer(shortID(m.Layers[i].Digest.Hex), "Preparing", 0, 0)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelLayers)
	for _, l := range m.Layers {
		g.Go(func() error {
			id := shortID(l.Digest.Hex)
			layer, err := img.LayerByDigest(l.Digest)
			if err != nil {
				return err
			}
			watched := &watchedLayer{Layer: layer, p: p, id: id, size: l.Size}
			wl, err := partial.CompressedToLayer(watched)
			if err != nil {
				return err
			}
			if err := remote.WriteLayer(r.Context(), wl, remoteOptions(gctx, o.Transport)...); err != nil {
				return registryError("push", r, err)
			}
			if watched.read.Load() {
				p.Layer(id, "Pushed", 0, 0)
			} else {
				p.Layer(id, "Layer already exists", 0, 0)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(r, img, opts...); err != nil {
		return v1.Hash{}, registryError("push", r, err)
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	size, _ := img.Size()
	p.Line(fmt.Sprintf("%s: digest: %s size: %d", tagOrDigest(r), d, size))
	return d, nil
}

func tagOrDigest(r name.Reference) string { return r.Identifier() }

// repoName is the repository's full name, Docker Hub spelled docker.io.
func repoName(r name.Reference) string {
	return strings.Replace(r.Context().Name(), "index.docker.io/", "docker.io/", 1)
}

// watchedLayer reports upload progress and whether the upload happened at
// all: go-containerregistry reads a layer only when the registry lacks it.
type watchedLayer struct {
	v1.Layer
	p    Progress
	id   string
	size int64
	read atomic.Bool
}

func (w *watchedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := w.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	w.read.Store(true)
	return struct {
		io.Reader
		io.Closer
	}{&counter{r: rc, p: w.p, id: w.id, status: "Pushing", total: w.size}, rc}, nil
}

func (w *watchedLayer) MediaType() (types.MediaType, error) { return w.Layer.MediaType() }
