package build

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/fixture"
)

func buildOK(t *testing.T, o Options) (Result, string) {
	t.Helper()
	var out bytes.Buffer
	o.Progress = &out
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return res, out.String()
}

const cacheDockerfile = `FROM busybox:test AS other
RUN date +%s%N > /other

FROM busybox:test
RUN date +%s%N > /before
COPY first.txt /first
ARG WHO=nobody
RUN echo "$WHO" > /who && date +%s%N > /after-arg
COPY --from=other /other /other
COPY second.txt /second
RUN date +%s%N > /last
`

// TestBuildCache: an unchanged rebuild runs no step and makes the same
// image; a change in a copied file runs that COPY and what follows it,
// nothing before; a build arg change runs the steps from the first that
// uses it, not the other stage's; --no-cache and --no-cache-filter run
// what they name.
func TestBuildCache(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{"first.txt": "1", "second.txt": "2", "Dockerfile": cacheDockerfile})
	o := Options{Root: root, ContextDir: ctxDir, Tags: []string{"cached"}}
	first, out := buildOK(t, o)
	fixture.WantCached(t, "first build", out, map[string]bool{"RUN date +%s%N > /other": false, "RUN date +%s%N > /last": false})

	again, out := buildOK(t, o)
	fixture.WantCached(t, "unchanged rebuild", out, map[string]bool{
		"RUN date +%s%N > /other": true, "RUN date +%s%N > /before": true, "COPY first.txt": true,
		"RUN echo \"nobody\"": true, "COPY --from=other": true, "COPY second.txt": true, "RUN date +%s%N > /last": true,
	})
	if again.ID != first.ID {
		t.Errorf("an unchanged rebuild made image %s, the first build %s", again.ID, first.ID)
	}

	os.WriteFile(filepath.Join(ctxDir, "second.txt"), []byte("changed"), 0o644)
	changed, out := buildOK(t, o)
	fixture.WantCached(t, "second.txt changed", out, map[string]bool{
		"RUN date +%s%N > /before": true, "COPY first.txt": true, "RUN echo \"nobody\"": true, "COPY --from=other": true,
		"COPY second.txt": false, "RUN date +%s%N > /last": false,
	})
	if changed.ID == first.ID {
		t.Errorf("a changed context file made the same image")
	}
	dir, _ := view(t, root, "cached")
	if got, _ := os.ReadFile(filepath.Join(dir, "second")); string(got) != "changed" {
		t.Errorf("/second is %q, want the changed file", got)
	}

	o.BuildArgs = map[string]string{"WHO": "someone"}
	_, out = buildOK(t, o)
	fixture.WantCached(t, "build arg changed", out, map[string]bool{
		"RUN date +%s%N > /other": true, "RUN date +%s%N > /before": true, "COPY first.txt": true,
		"RUN echo \"someone\"": false, "COPY second.txt": false, "RUN date +%s%N > /last": false,
	})

	o.NoCacheFilter = []string{"other"}
	_, out = buildOK(t, o)
	fixture.WantCached(t, "no-cache-filter other", out, map[string]bool{
		"RUN date +%s%N > /other": false, "RUN date +%s%N > /before": true, "COPY first.txt": true,
		"RUN echo \"someone\"": true, "COPY --from=other": false, "RUN date +%s%N > /last": false,
	})

	o.NoCacheFilter, o.NoCache = nil, true
	_, out = buildOK(t, o)
	if strings.Contains(out, "CACHED") {
		t.Errorf("--no-cache took steps from the cache:\n%s", out)
	}

	// builder prune -a: the cache is gone, and the next build runs
	// every step
	ids, freed, err := PruneCache(context.Background(), root, PruneOptions{All: true})
	if err != nil || len(ids) == 0 || freed <= 0 {
		t.Errorf("prune: %d entries, %d bytes, %v", len(ids), freed, err)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "buildcache", "steps")); len(left) != 0 {
		t.Errorf("entries after prune: %v", left)
	}
	o.NoCache = false
	_, out = buildOK(t, o)
	if strings.Contains(out, "CACHED") {
		t.Errorf("a build after prune took steps from the cache:\n%s", out)
	}
}

// TestBuildCacheDangling: builder prune without -a keeps the entries
// whose layers an image has and removes the others (a stage no image
// holds).
func TestBuildCacheDangling(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{"first.txt": "1", "second.txt": "2", "Dockerfile": cacheDockerfile})
	o := Options{Root: root, ContextDir: ctxDir, Tags: []string{"dangling"}}
	buildOK(t, o)
	s, _, _ := image.OpenRoot(root)
	ids, _, err := PruneCache(context.Background(), root, PruneOptions{InImage: s.HasBlob})
	if err != nil || len(ids) != 1 {
		t.Errorf("prune: removed %v (%v), want the other stage's RUN alone", ids, err)
	}
	_, out := buildOK(t, o)
	fixture.WantCached(t, "after pruning the dangling", out, map[string]bool{
		"RUN date +%s%N > /other": false, "RUN date +%s%N > /before": true, "RUN date +%s%N > /last": true,
	})
}

// TestBuildDockerignore: what .dockerignore takes is not in the context
// COPY sees, an exception brings a file back inside an ignored
// directory (which keeps its mode), a change to an ignored file leaves
// the cache valid, and <Dockerfile>.dockerignore beside the Dockerfile
// wins over the context's.
func TestBuildDockerignore(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{
		"a.txt": "a", "secret.txt": "s", "dir/x": "x", "dir/keep": "k", "logs/1.log": "l",
		".dockerignore": "secret.txt\ndir\n!dir/keep\nlogs\n",
		"Dockerfile":    "FROM busybox:test\nCOPY . /ctx/\nRUN find /ctx | sort > /list\n",
	})
	os.Chmod(filepath.Join(ctxDir, "dir"), 0o750)
	o := Options{Root: root, ContextDir: ctxDir, Tags: []string{"ignoring"}}
	first, _ := buildOK(t, o)
	dir, _ := view(t, root, "ignoring")
	list, _ := os.ReadFile(filepath.Join(dir, "list"))
	want := "/ctx\n/ctx/.dockerignore\n/ctx/Dockerfile\n/ctx/a.txt\n/ctx/dir\n/ctx/dir/keep\n"
	if string(list) != want {
		t.Errorf("the copied context:\n%s\nwant:\n%s", list, want)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ctx/dir")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("/ctx/dir: %v (%v), want the context's mode 0750", fi.Mode(), err)
	}

	os.WriteFile(filepath.Join(ctxDir, "secret.txt"), []byte("changed"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "dir/x"), []byte("changed"), 0o644)
	again, out := buildOK(t, o)
	fixture.WantCached(t, "ignored files changed", out, map[string]bool{"COPY . /ctx/": true, "RUN find": true})
	if again.ID != first.ID {
		t.Errorf("a change to ignored files made another image")
	}
	os.WriteFile(filepath.Join(ctxDir, "dir/keep"), []byte("changed"), 0o644)
	_, out = buildOK(t, o)
	fixture.WantCached(t, "an exception's file changed", out, map[string]bool{"COPY . /ctx/": false})

	// -f with its own ignore file beside it
	other := t.TempDir()
	df := filepath.Join(other, "build.Dockerfile")
	os.WriteFile(df, []byte("FROM busybox:test\nCOPY . /ctx/\nRUN find /ctx | sort > /list\n"), 0o644)
	os.WriteFile(df+".dockerignore", []byte("a.txt\n.dockerignore\nDockerfile\ndir\nlogs\n"), 0o644)
	buildOK(t, Options{Root: root, ContextDir: ctxDir, Dockerfile: df, Tags: []string{"ignoring2"}})
	dir, _ = view(t, root, "ignoring2")
	list, _ = os.ReadFile(filepath.Join(dir, "list"))
	if want := "/ctx\n/ctx/secret.txt\n"; string(list) != want {
		t.Errorf("with build.Dockerfile.dockerignore, the copied context:\n%s\nwant:\n%s", list, want)
	}
}

// TestBuildCacheEntriesComplete: every entry in the cache is complete
// (its record written), none is left in the making, and the context's
// digests are kept for the next build.
func TestBuildCacheEntriesComplete(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{"first.txt": "1", "second.txt": "2", "Dockerfile": cacheDockerfile})
	buildOK(t, Options{Root: root, ContextDir: ctxDir})
	entries, _ := os.ReadDir(filepath.Join(root, "buildcache", "steps"))
	if len(entries) != 7 {
		t.Errorf("%d entries, want one per RUN and COPY: 7", len(entries))
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(root, "buildcache", "steps", e.Name(), "record.json")); err != nil {
			t.Errorf("entry %s: %v", e.Name(), err)
		}
	}
	if ctxs, _ := os.ReadDir(filepath.Join(root, "buildcache", "context")); len(ctxs) != 1 {
		t.Errorf("context digest files: %v", ctxs)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "build")); len(left) > 0 {
		t.Errorf("build files left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(root, "buildcache", "lock")); errors.Is(err, os.ErrNotExist) {
		t.Errorf("no cache lock")
	}
}

// TestBuildCacheAfterImageRemoved: image rm frees the image's blobs and
// snapshots but not the build cache (as Docker's rmi leaves BuildKit's):
// a rebuild takes every step from the cache, writes the layers again
// from the entries and makes the image whole. (Not the same image ID:
// tarfs writes each file's atime and ctime, which differ by then.)
func TestBuildCacheAfterImageRemoved(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{"first.txt": "1", "second.txt": "2", "Dockerfile": cacheDockerfile})
	o := Options{Root: root, ContextDir: ctxDir, Tags: []string{"removed"}}
	first, _ := buildOK(t, o)
	s, snaps, _ := image.OpenRoot(root)
	if _, err := image.Remove(context.Background(), s, snaps, []string{"removed"}, image.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Lookup(first.ID.String()); err == nil {
		t.Fatal("the image is still there")
	}
	again, out := buildOK(t, o)
	fixture.WantCached(t, "after image rm", out, map[string]bool{"RUN date +%s%N > /before": true, "COPY second.txt": true, "RUN date +%s%N > /last": true})
	if len(again.Names) != 1 {
		t.Errorf("the rebuild named %v", again.Names)
	}
	dir, _ := view(t, root, "removed")
	for p, want := range map[string]string{"first": "1", "second": "2", "who": "nobody\n"} {
		if got, err := os.ReadFile(filepath.Join(dir, p)); string(got) != want {
			t.Errorf("/%s: %q (%v), want %q", p, got, err, want)
		}
	}
}
