package build

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
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
