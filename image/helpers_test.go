package image

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

func mutateConfig(t *testing.T, img v1.Image, cf *v1.ConfigFile) v1.Image {
	t.Helper()
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustInsecureB(b *testing.B, s string) name.Reference {
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func writeRemote(r name.Reference, img v1.Image) error { return remote.Write(r, img) }
