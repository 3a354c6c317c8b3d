package engine

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/build"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/registrytest"
)

// loadBuilds are the root's builds but for the build itself, which loads
// an image under the build's names instead (build's own tests cover the
// builder, which needs berth-build beside the test): its pushes are the
// real ones.
type loadBuilds struct{ localBuilds }

func (l loadBuilds) Build(ctx context.Context, o build.Options) (string, error) {
	img, err := random.Image(256, 2)
	if err != nil {
		return "", err
	}
	refs := map[name.Reference]v1.Image{}
	for _, tag := range o.Tags {
		r, err := name.ParseReference(tag, name.Insecure)
		if err != nil {
			return "", err
		}
		refs[r] = img
	}
	var buf bytes.Buffer
	if err := tarball.MultiRefWrite(refs, &buf); err != nil {
		return "", err
	}
	s, snaps, err := image.OpenRoot(l.root)
	if err != nil {
		return "", err
	}
	if _, err := image.Load(ctx, s, snaps, &buf); err != nil {
		return "", err
	}
	id, err := img.ConfigName()
	return id.String(), err
}

// TestBuildPushed: build --push tells BuildOptions.Pushed of each name it
// pushed (image: and each of build.tags) with the manifest digest the
// registry now serves that name by, which the cluster backend pins its
// pods to.
func TestBuildPushed(t *testing.T) {
	fixture.RequireRoot(t, "loading an image unpacks its layers")
	host := registrytest.Start(t, nil)
	p := load(t, `name: p
services:
  web:
    image: `+host+`/p/web:1
    build:
      context: .
      tags: ["`+host+`/p/web:extra"]
  db:
    image: `+host+`/p/db:1
`)
	e := newMachine().engine(t)
	e.builds = loadBuilds{localBuilds{root: e.root}}
	type push struct{ service, ref, digest string }
	var got []push
	_, err := e.Build(context.Background(), p, nil, api.BuildOptions{Push: true,
		Pushed: func(service, ref, digest string) { got = append(got, push{service, ref, digest}) }})
	if err != nil {
		t.Fatal(err)
	}
	var want []push
	for _, ref := range []string{host + "/p/web:1", host + "/p/web:extra"} {
		r, err := name.ParseReference(ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		d, err := remote.Head(r)
		if err != nil {
			t.Fatalf("the registry has no %s: %v", ref, err)
		}
		want = append(want, push{"web", ref, d.Digest.String()})
	}
	if !slices.Equal(got, want) {
		t.Errorf("Pushed told %v, want %v (the registry's digests)", got, want)
	}
}
