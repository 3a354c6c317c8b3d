package build

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/registrytest"
	"github.com/berth-dev/berth/internal/testimage"
)

// TestBuildStagesFromSeveralBases: the frontend resolves the bases of
// the stages a target needs at the same time; the builder looks each up
// (and would pull it) one at a time. Under the race detector (make test)
// concurrent lookups fail this test.
func TestBuildStagesFromSeveralBases(t *testing.T) {
	root := newRoot(t)
	df := "FROM busybox:test AS a\nRUN echo a > /a\n" +
		"FROM docker.io/library/busybox:test AS b\nRUN echo b > /b\n" +
		"FROM busybox:test AS c\nRUN echo c > /c\n" +
		"FROM scratch\nCOPY --from=a /a /\nCOPY --from=b /b /\nCOPY --from=c /c /\n"
	var out bytes.Buffer
	if _, err := Build(context.Background(), Options{Root: root, ContextDir: t.TempDir(), DockerfileInline: []byte(df), Tags: []string{"stages"}, Progress: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	dir, _ := view(t, root, "stages")
	for _, f := range []string{"a", "b", "c"} {
		if got, err := os.ReadFile(filepath.Join(dir, f)); string(got) != f+"\n" {
			t.Errorf("/%s: %q (%v)", f, got, err)
		}
	}
}

// TestBuildFromDigest: FROM an image named by its digest builds on that
// image (pulled by digest), not on the repository's latest tag.
func TestBuildFromDigest(t *testing.T) {
	fixture.RequireRoot(t, "RUN steps need namespaces, cgroups and overlay mounts")
	host := registrytest.Start(t, nil)
	img := testimage.Busybox(t)
	r, err := name.ParseReference(host+"/base/busybox:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	root := emptyRoot(t)
	ref := host + "/base/busybox@" + d.String()
	df := "FROM " + ref + "\nRUN echo on top > /top\nCOPY --from=" + ref + " /etc/passwd /passwd\n"
	var out bytes.Buffer
	if _, err := Build(context.Background(), Options{Root: root, ContextDir: t.TempDir(), DockerfileInline: []byte(df), Tags: []string{"by-digest"}, Progress: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	dir, _ := view(t, root, "by-digest")
	for f, want := range map[string]string{"top": "on top\n", "passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"} {
		if got, err := os.ReadFile(filepath.Join(dir, f)); string(got) != want {
			t.Errorf("/%s: %q (%v)", f, got, err)
		}
	}
}
