package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fixture"
)

// TestImageBuildCache: berth image build reuses unchanged steps (#N
// CACHED, the same image ID), runs again from a changed COPY on,
// --no-cache runs all, builder prune empties the cache (Docker's output)
// and so does system prune.
func TestImageBuildCache(t *testing.T) {
	root, run := busyboxRoot(t)
	ctx := project(t, map[string]string{
		"Dockerfile":    "FROM bb:1\nRUN busybox date +%s%N > /first\nCOPY page.txt /page.txt\nRUN busybox date +%s%N > /last\n",
		"page.txt":      "a page\n",
		"ignored.txt":   "x",
		".dockerignore": "ignored.txt\n",
	})
	first := run("image", "build", "-t", "cached:1", ctx)
	if first.code != 0 {
		t.Fatalf("build: exit %d\n%s", first.code, first.stderr)
	}
	fixture.WantCached(t, "first build", first.stderr, map[string]bool{"RUN busybox date +%s%N > /first": false, "COPY page.txt": false})
	id := run("image", "inspect", "--format", "{{.Id}}", "cached:1").stdout

	os.WriteFile(filepath.Join(ctx, "ignored.txt"), []byte("changed, and ignored"), 0o644)
	again := run("image", "build", "-t", "cached:1", ctx)
	fixture.WantCached(t, "unchanged rebuild", again.stderr, map[string]bool{"RUN busybox date +%s%N > /first": true, "COPY page.txt": true, "RUN busybox date +%s%N > /last": true})
	if got := run("image", "inspect", "--format", "{{.Id}}", "cached:1").stdout; got != id {
		t.Errorf("unchanged rebuild: image %s, first build %s", got, id)
	}

	os.WriteFile(filepath.Join(ctx, "page.txt"), []byte("another page\n"), 0o644)
	changed := run("image", "build", "-t", "cached:1", ctx)
	fixture.WantCached(t, "page.txt changed", changed.stderr, map[string]bool{"RUN busybox date +%s%N > /first": true, "COPY page.txt": false, "RUN busybox date +%s%N > /last": false})
	if out := run("container", "run", "--rm", "cached:1", "cat", "/page.txt"); out.stdout != "another page\n" {
		t.Errorf("the rebuilt image has /page.txt %q (%s)", out.stdout, out.stderr)
	}

	noCache := run("image", "build", "--no-cache", "-t", "cached:1", ctx)
	if noCache.code != 0 || strings.Contains(noCache.stderr, "CACHED") {
		t.Errorf("--no-cache: exit %d, took steps from the cache:\n%s", noCache.code, noCache.stderr)
	}

	// --no-cache-filter names a stage, here the only one, whose steps'
	// names do not carry it
	named := filepath.Join(t.TempDir(), "Named.dockerfile")
	os.WriteFile(named, []byte("FROM bb:1 AS app\nRUN busybox date +%s%N > /named\n"), 0o644)
	if r := run("image", "build", "-f", named, "-t", "named", ctx); r.code != 0 {
		t.Fatalf("build -f Named.dockerfile: exit %d\n%s", r.code, r.stderr)
	}
	r := run("image", "build", "-f", named, "--no-cache-filter", "app", "-t", "named", ctx)
	fixture.WantCached(t, "--no-cache-filter app", r.stderr, map[string]bool{"RUN busybox date +%s%N > /named": false})
	r = run("image", "build", "-f", named, "--no-cache-filter", "other", "-t", "named", ctx)
	fixture.WantCached(t, "--no-cache-filter other", r.stderr, map[string]bool{"RUN busybox date +%s%N > /named": true})

	// the cache entries of the tagged image's layers are not dangling
	if r := run("builder", "prune", "-f"); r.code != 0 || !strings.HasPrefix(r.stdout, "Total reclaimed space: ") {
		t.Errorf("builder prune: exit %d, output %q %s", r.code, r.stdout, r.stderr)
	}
	if r := run("image", "build", "-t", "cached:1", ctx); !strings.Contains(r.stderr, "CACHED") {
		t.Errorf("builder prune without -a removed the image's steps:\n%s", r.stderr)
	}
	r = run("builder", "prune", "-a", "-f")
	if r.code != 0 || !regexp.MustCompile(`^Deleted build cache objects:\n([0-9a-f]{25}\n)+\nTotal reclaimed space: [1-9][0-9.]*[kM]?B\n$`).MatchString(r.stdout) {
		t.Errorf("builder prune -a: exit %d, output %q %s", r.code, r.stdout, r.stderr)
	}
	after := run("image", "build", "-t", "cached:1", ctx)
	if after.code != 0 || strings.Contains(after.stderr, "CACHED") {
		t.Errorf("after builder prune -a: exit %d, steps from the cache:\n%s", after.code, after.stderr)
	}

	if r := run("system", "prune", "-a", "-f"); r.code != 0 || !strings.Contains(r.stdout, "Deleted build cache objects:") {
		t.Errorf("system prune -a: exit %d, output %q %s", r.code, r.stdout, r.stderr)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "buildcache", "steps")); len(left) != 0 {
		t.Errorf("cache entries after system prune -a: %v", left)
	}
	noLeftovers(t, root)
}

// TestImageBuildCacheKilled: a build killed during a step leaves no
// cache entry of it, half made or whole; the next build takes the
// steps before it from the cache, runs it, and then caches it.
func TestImageBuildCacheKilled(t *testing.T) {
	root, run := busyboxRoot(t)
	// the step waits until a moment a few seconds ahead: the first build
	// is killed before, the second sees it pass
	until := time.Now().Add(8 * time.Second).Unix()
	df := fmt.Sprintf("FROM bb:1\nRUN echo first > /first\nRUN echo started; while [ $(busybox date +%%s) -lt %d ]; do sleep 0.2; done; echo ended > /ended\n", until)
	ctx := project(t, map[string]string{"Dockerfile": df})
	cmd := exec.Command(berthBin, "--root", root, "image", "build", "-t", "killed", ctx)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.HasSuffix(sc.Text(), " started") {
	}
	cmd.Process.Kill()
	cmd.Wait()
	if time.Now().Unix() >= until {
		t.Fatal("the build was killed after its step's end: the test kills too late")
	}
	entries, _ := os.ReadDir(filepath.Join(root, "buildcache", "steps"))
	if len(entries) != 1 {
		t.Errorf("cache entries after the kill: %v, want the first RUN's alone", entries)
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(root, "buildcache", "steps", e.Name(), "record.json")); err != nil {
			t.Errorf("entry %s is incomplete: %v", e.Name(), err)
		}
	}

	next := run("image", "build", "-t", "killed", ctx)
	if next.code != 0 {
		t.Fatalf("next build: exit %d\n%s", next.code, next.stderr)
	}
	fixture.WantCached(t, "after the kill", next.stderr, map[string]bool{"RUN echo first": true, "RUN echo started": false})
	last := run("image", "build", "-t", "killed", ctx)
	fixture.WantCached(t, "once more", last.stderr, map[string]bool{"RUN echo first": true, "RUN echo started": true})
	if left, _ := os.ReadDir(filepath.Join(root, "build")); len(left) > 0 {
		t.Errorf("build files left: %v", left)
	}
	noLeftovers(t, root)
}

// TestImageBuildCacheAfterRm: after image rm of a built image, a rebuild
// takes every step from the cache and makes the same image ID: the
// layers are written again from the cache, and a layer's tar headers
// carry no access or change time (which reading and linking the files
// moved), as Docker's and BuildKit's archive writers write none.
func TestImageBuildCacheAfterRm(t *testing.T) {
	_, run := busyboxRoot(t)
	ctx := project(t, map[string]string{
		"Dockerfile": "FROM bb:1\nRUN mkdir -p /data && busybox date +%s%N > /data/stamp\nCOPY page.txt /data/page.txt\n",
		"page.txt":   "a page\n",
	})
	if r := run("image", "build", "-t", "again:1", ctx); r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	id := run("image", "inspect", "--format", "{{.Id}}", "again:1").stdout
	if r := run("image", "rm", "again:1"); r.code != 0 {
		t.Fatalf("image rm: exit %d\n%s", r.code, r.stderr)
	}
	if r := run("image", "inspect", id); r.code == 0 {
		t.Fatalf("image %s is still there after image rm", id)
	}
	r := run("image", "build", "-t", "again:1", ctx)
	if r.code != 0 {
		t.Fatalf("rebuild: exit %d\n%s", r.code, r.stderr)
	}
	fixture.WantCached(t, "rebuild after image rm", r.stderr, map[string]bool{"RUN mkdir": true, "COPY page.txt": true})
	if got := run("image", "inspect", "--format", "{{.Id}}", "again:1").stdout; got != id {
		t.Errorf("rebuild after image rm: image %s, first build %s", got, id)
	}
}

// TestImageBuildCacheFrom: an image berth built with --cache-to
// type=inline (or BUILDKIT_INLINE_CACHE=1), saved, and loaded into a
// store without its build cache, is a cache source: --cache-from (and
// compose's cache_from) takes its steps, the same image again; without
// it the steps run, and an image built without the record gives none.
func TestImageBuildCacheFrom(t *testing.T) {
	root, run := busyboxRoot(t)
	ctx := project(t, map[string]string{
		"Dockerfile":   "FROM bb:1\nRUN busybox date +%s%N > /first\nCOPY page.txt /page.txt\nRUN busybox date +%s%N > /last\n",
		"page.txt":     "a page\n",
		"compose.yaml": "name: cfrom\nservices:\n  app:\n    build:\n      context: .\n      cache_from: [\"type=registry,ref=cf:1\"]\n",
	})
	steps := map[string]bool{"RUN busybox date +%s%N > /first": true, "COPY page.txt": true, "RUN busybox date +%s%N > /last": true}
	if r := run("image", "build", "--cache-to", "type=inline", "-t", "cf:1", ctx); r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	id := run("image", "inspect", "--format", "{{.Id}}", "cf:1").stdout
	archive := filepath.Join(t.TempDir(), "cf.tar")
	if r := run("image", "save", "-o", archive, "cf:1"); r.code != 0 {
		t.Fatalf("save: exit %d\n%s", r.code, r.stderr)
	}
	forget := func() {
		t.Helper()
		run("image", "rm", "cf:1", "cf:2", "cfrom-app")
		if r := run("builder", "prune", "-a", "-f"); r.code != 0 {
			t.Fatalf("builder prune -a: exit %d\n%s", r.code, r.stderr)
		}
		if r := run("image", "load", "-i", archive); r.code != 0 {
			t.Fatalf("load: exit %d\n%s", r.code, r.stderr)
		}
	}

	forget()
	r := run("image", "build", "--cache-from", "cf:1", "--cache-to", "type=inline", "-t", "cf:2", ctx)
	fixture.WantCached(t, "--cache-from cf:1", r.stderr, steps)
	if got := run("image", "inspect", "--format", "{{.Id}}", "cf:2").stdout; got != id {
		t.Errorf("built from the cache of cf:1: image %s, cf:1 is %s", got, id)
	}
	if out := run("container", "run", "--rm", "cf:2", "cat", "/page.txt"); out.stdout != "a page\n" {
		t.Errorf("cf:2's /page.txt: %q %s", out.stdout, out.stderr)
	}

	forget()
	r = berth(t, ctx, "", "--root", root, "build", "app")
	fixture.WantCached(t, "compose cache_from", r.stderr, steps)

	// a changed file: the steps from its COPY on run, the first is taken
	forget()
	os.WriteFile(filepath.Join(ctx, "page.txt"), []byte("another page\n"), 0o644)
	r = run("image", "build", "--cache-from", "cf:1", "-t", "cf:2", ctx)
	fixture.WantCached(t, "--cache-from cf:1, page.txt changed", r.stderr, map[string]bool{"RUN busybox date +%s%N > /first": true, "COPY page.txt": false, "RUN busybox date +%s%N > /last": false})

	forget()
	r = run("image", "build", "-t", "cf:2", ctx)
	fixture.WantCached(t, "without --cache-from", r.stderr, map[string]bool{"RUN busybox date +%s%N > /first": false, "RUN busybox date +%s%N > /last": false})

	// without the record (no --cache-to), an image is no cache source;
	// the build arg asks for it as --cache-to does
	other := project(t, map[string]string{"Dockerfile": "FROM bb:1\nRUN busybox date +%s%N > /other\n"})
	for _, c := range []struct {
		args   []string
		cached bool
	}{{nil, false}, {[]string{"--build-arg", "BUILDKIT_INLINE_CACHE=1"}, true}} {
		if r := run(append(append([]string{"image", "build", "-t", "cf:other"}, c.args...), other)...); r.code != 0 {
			t.Fatalf("build %v: exit %d\n%s", c.args, r.code, r.stderr)
		}
		run("image", "save", "-o", archive, "cf:other")
		run("image", "rm", "cf:other")
		run("builder", "prune", "-a", "-f")
		run("image", "load", "-i", archive)
		r := run("image", "build", "--cache-from", "cf:other", "-t", "cf:2", other)
		fixture.WantCached(t, fmt.Sprintf("--cache-from an image built with %v", c.args), r.stderr, map[string]bool{"RUN busybox date +%s%N > /other": c.cached})
	}
	if r := run("image", "build", "--cache-to", "type=local,dest=x", ctx); r.code != 125 || !strings.Contains(r.stderr, "only type=inline is supported") {
		t.Errorf("--cache-to type=local: exit %d\n%s", r.code, r.stderr)
	}
}
