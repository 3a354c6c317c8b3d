package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"
)

// parallelLayers is how many layers download at once, as in Docker.
const parallelLayers = 3

// PullOptions shape a pull.
type PullOptions struct {
	// Platform is os/arch[/variant]; empty means this machine's.
	Platform string
	// Progress receives the display; nil shows nothing.
	Progress Progress
	// Transport carries the registry requests; nil is the default.
	Transport http.RoundTripper
}

// Pull fetches ref from its registry into the store and unpacks its layers,
// and returns the reference it wrote. Blobs already stored are not fetched
// again, so pulling an image that is present costs one manifest request.
// Nothing is referenced until every blob is stored and verified, so a failed
// or interrupted pull leaves the store as it was, bar unreferenced blobs that
// GC removes.
func Pull(ctx context.Context, s *Store, snaps *Snapshots, ref string, o PullOptions) (Ref, error) {
	p := o.Progress
	if p == nil {
		p = Quiet
	}
	r, err := ParseReference(ref)
	if err != nil {
		return Ref{}, err
	}
	platform, err := parsePlatform(o.Platform)
	if err != nil {
		return Ref{}, err
	}
	unlock, err := s.lockShared(ctx)
	if err != nil {
		return Ref{}, err
	}
	defer unlock()

	desc, err := remote.Get(r, remoteOptions(ctx, o.Transport, remote.WithPlatform(*platform))...)
	if err != nil {
		return Ref{}, registryError("pull", r, err)
	}
	img, err := desc.Image() // an index resolves to the platform's image
	if err != nil {
		return Ref{}, registryError("pull", r, err)
	}
	manifestDigest, err := img.Digest()
	if err != nil {
		return Ref{}, registryError("pull", r, err)
	}
	full := FullName(r)
	p.Line(fmt.Sprintf("%s: Pulling from %s", r.Identifier(), r.Context().RepositoryStr()))
	fresh, err := fetchImage(ctx, s, img, p)
	if err != nil {
		return Ref{}, err
	}
	stored, err := s.Image(manifestDigest)
	if err != nil {
		return Ref{}, err
	}
	if err := snaps.Prepare(ctx, s, stored, func(layer v1.Hash, status string) { p.Layer(shortID(layer.Hex), status, 0, 0) }); err != nil {
		return Ref{}, err
	}
	mt, _ := img.MediaType()
	size, _ := img.Size()
	d := v1.Descriptor{MediaType: mt, Digest: manifestDigest, Size: size, Platform: platform}
	old, _ := refByName(s, full)
	if err := s.SetRef(ctx, full, d); err != nil {
		return Ref{}, err
	}
	p.Line("Digest: " + desc.Digest.String())
	if fresh || old.Manifest.Digest != manifestDigest {
		p.Line("Status: Downloaded newer image for " + FamiliarName(full))
	} else {
		p.Line("Status: Image is up to date for " + FamiliarName(full))
	}
	return Ref{Name: full, Manifest: d}, nil
}

// fetchImage stores img's manifest, config and layers, fetching in parallel
// only the blobs the store lacks. It reports whether anything was fetched.
func fetchImage(ctx context.Context, s *Store, img v1.Image, p Progress) (bool, error) {
	m, err := img.Manifest()
	if err != nil {
		return false, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return false, err
	}
	manifestDigest, _ := img.Digest()
	fetched := false
	if !s.HasBlob(m.Config.Digest) {
		fetched = true
		err := s.Ingest(ctx, m.Config.Digest, m.Config.Size, func() (io.ReadCloser, error) {
			cfg, err := img.RawConfigFile()
			return io.NopCloser(bytes.NewReader(cfg)), err
		})
		if err != nil {
			return false, err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelLayers)
	for _, l := range m.Layers {
		id := shortID(l.Digest.Hex)
		if s.HasBlob(l.Digest) {
			p.Layer(id, "Already exists", 0, 0)
			continue
		}
		fetched = true
		p.Layer(id, "Pulling fs layer", 0, 0)
		g.Go(func() error {
			err := s.Ingest(gctx, l.Digest, l.Size, func() (io.ReadCloser, error) {
				layer, err := img.LayerByDigest(l.Digest)
				if err != nil {
					return nil, err
				}
				rc, err := layer.Compressed()
				if err != nil {
					return nil, err
				}
				return struct {
					io.Reader
					io.Closer
				}{&counter{r: rc, p: p, id: id, status: "Downloading", total: l.Size}, rc}, nil
			})
			if err != nil {
				return err
			}
			p.Layer(id, "Download complete", 0, 0)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return false, layerError(err)
	}
	if err := s.WriteBlob(ctx, manifestDigest, int64(len(raw)), bytesReader(raw)); err != nil {
		return false, err
	}
	return fetched, nil
}

func refByName(s *Store, full string) (Ref, error) {
	refs, err := s.Refs()
	if err != nil {
		return Ref{}, err
	}
	for _, r := range refs {
		if r.Name == full {
			return r, nil
		}
	}
	return Ref{}, wrap(ErrNotFound, nil, "no such image: "+FamiliarName(full))
}

// remoteOptions: credentials from the Docker config file (helpers included),
// go-containerregistry's retries of transient failures, and ctx.
func remoteOptions(ctx context.Context, rt http.RoundTripper, extra ...remote.Option) []remote.Option {
	if rt != nil {
		extra = append(extra, remote.WithTransport(rt))
	}
	return append([]remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithUserAgent("berth"),
		remote.WithJobs(parallelLayers),
	}, extra...)
}

// registryError turns a registry failure into Docker's words and a class.
func registryError(op string, r name.Reference, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch {
		case terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden:
			return wrap(ErrRegistry, err, fmt.Sprintf("%s access denied for %s, repository does not exist or may require 'berth login'", op, FamiliarName(FullName(r))))
		case terr.StatusCode == http.StatusNotFound || hasCode(terr, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode):
			return wrap(ErrNotFound, err, fmt.Sprintf("manifest for %s not found: manifest unknown", FamiliarName(FullName(r))))
		}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return wrap(ErrRegistry, err, fmt.Sprintf("%s %s: %v", op, FamiliarName(FullName(r)), oneLine(err.Error())))
}

func hasCode(e *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range e.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}

func layerError(err error) error {
	if errors.Is(err, ErrDigest) || errors.Is(err, context.Canceled) {
		return err
	}
	return wrap(ErrRegistry, err, "downloading layer: "+oneLine(err.Error()))
}

// parsePlatform reads os/arch[/variant]; empty is this machine.
func parsePlatform(s string) (*v1.Platform, error) {
	if s == "" {
		p := &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
		if runtime.GOARCH == "arm" {
			p.Variant = "v7"
		}
		return p, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return nil, wrap(ErrInvalid, err, fmt.Sprintf("invalid platform %q: %v", s, err))
	}
	return p, nil
}
