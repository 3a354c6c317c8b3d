package build

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-dev/berth/build/frontend/wire"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/testimage"
)

// TestFrontendMemo: an unchanged rebuild takes the frontend's definition
// from the memo instead of running the frontend; a changed build arg, a
// base image changed under the same name and a pruned cache each run it
// again, and every build makes what the Dockerfile says.
func TestFrontendMemo(t *testing.T) {
	root := newRoot(t)
	runs := 0
	inner := runFrontend
	runFrontend = func(ctx context.Context, req *wire.Request, resolve wire.Resolver) (*wire.Result, error) {
		runs++
		return inner(ctx, req, resolve)
	}
	t.Cleanup(func() { runFrontend = inner })

	ctxDir := fixture.Dir(t, map[string]string{"Dockerfile": "FROM busybox:test\nARG WHO=nobody\nRUN echo \"$WHO\" > /who\n"})
	o := Options{Root: root, ContextDir: ctxDir, Tags: []string{"memo"}}
	first, _ := buildOK(t, o)
	again, _ := buildOK(t, o)
	if runs != 1 || again.ID != first.ID {
		t.Errorf("an unchanged rebuild: the frontend ran %d times in two builds, want 1; images %s and %s", runs, first.ID, again.ID)
	}

	o.BuildArgs = map[string]string{"WHO": "someone"}
	buildOK(t, o)
	if runs != 2 {
		t.Errorf("a changed build arg: the frontend ran %d times in all, want 2", runs)
	}
	if dir, _ := view(t, root, "memo"); !fileIs(dir, "who", "someone\n") {
		t.Errorf("the build with WHO=someone did not write it")
	}

	// the same name, another image: the frontend takes the base's
	// config (here its environment) into the image's
	s, snaps, err := image.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	base := testimage.Busybox(t)
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf.Config.Env = append(cf.Config.Env, "FROM_NEW_BASE=1")
	changed, err := mutate.ConfigFile(base, cf)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tarball.Write(name.MustParseReference("busybox:test"), changed, &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := image.Load(context.Background(), s, snaps, &buf); err != nil {
		t.Fatal(err)
	}
	res, _ := buildOK(t, o)
	if runs != 3 {
		t.Errorf("a changed base: the frontend ran %d times in all, want 3", runs)
	}
	if env := imageEnv(t, root, res); !slices.Contains(env, "FROM_NEW_BASE=1") {
		t.Errorf("the image built on the changed base has the environment %q", env)
	}

	if _, _, err := PruneCache(context.Background(), root, PruneOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(memoDir(root)); len(entries) != 0 {
		t.Errorf("builder prune -a left the frontend's memo: %d entries", len(entries))
	}
	buildOK(t, o)
	if runs != 4 {
		t.Errorf("after builder prune -a: the frontend ran %d times in all, want 4", runs)
	}
}

func fileIs(dir, name, want string) bool {
	got, err := os.ReadFile(filepath.Join(dir, name))
	return err == nil && string(got) == want
}

func imageEnv(t *testing.T, root string, res Result) []string {
	t.Helper()
	s, _, err := image.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	_, img, err := s.Lookup(res.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.Config.Env
}
