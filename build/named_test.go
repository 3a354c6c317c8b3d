package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/registrytest"
	"github.com/berth-dev/berth/internal/testimage"
)

// TestBuildNamedContexts: a directory context is what COPY --from=NAME
// and RUN --mount=from=NAME read, less what its own .dockerignore takes
// (not the main context's), its files root's; a stage FROM a directory
// context stands on its files; docker-image://REF replaces FROM REF's
// name, from the store or pulled.
func TestBuildNamedContexts(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{".dockerignore": "kept.txt\n", "main.txt": "main"})
	assets := fixture.Dir(t, map[string]string{".dockerignore": "secret.txt\n", "a.txt": "from assets", "kept.txt": "kept",
		"secret.txt": "ignored", "sub/b.txt": "mounted"})
	if err := os.Chown(filepath.Join(assets, "a.txt"), 1234, 1234); err != nil {
		t.Fatal(err)
	}
	rootfs := fixture.Dir(t, map[string]string{"etc/motd": "a rootfs of its own\n"})
	df := `FROM rootfs AS base
COPY --from=busybox:test /bin/busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox cat /etc/motd > /ran"]

FROM alpine
COPY --from=assets / /all/
COPY --from=assets a.txt /a
COPY main.txt /main
RUN --mount=from=assets,target=/m cat /m/sub/b.txt > /b
COPY --from=base /ran /ran
`
	// alpine is no image here, and there is no network: only the named
	// context can give it
	res, out := buildOK(t, Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte(df), Tags: []string{"named"},
		Contexts: map[string]string{"assets": assets, "rootfs": rootfs, "alpine": "docker-image://busybox:test"}})
	if len(res.Names) != 1 {
		t.Fatalf("names %v", res.Names)
	}
	dir, _ := view(t, root, "named")
	for p, want := range map[string]string{"a": "from assets", "all/kept.txt": "kept", "all/sub/b.txt": "mounted",
		"main": "main", "b": "mounted", "ran": "a rootfs of its own\n"} {
		if got := read(t, dir, p); got != want {
			t.Errorf("/%s: %q, want %q\n%s", p, got, want, out)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "all/secret.txt")); err == nil {
		t.Errorf("the context's .dockerignore did not apply: /all/secret.txt is there")
	}
	if fi, err := os.Stat(filepath.Join(dir, "a")); err != nil || fileOwner(fi) != "0:0" {
		t.Errorf("/a: %v, owned %s, want root's", err, fileOwner(fi))
	}

	// the target FROM a directory: an image of its files, root's
	if _, out := buildOK(t, Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte("FROM assets\n"), Tags: []string{"dir-only"},
		Contexts: map[string]string{"assets": assets}}); out == "" {
		t.Errorf("no progress")
	}
	dir, img := view(t, root, "dir-only")
	if got := read(t, dir, "sub/b.txt"); got != "mounted" {
		t.Errorf("/sub/b.txt: %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "a.txt")); err != nil || fileOwner(fi) != "0:0" {
		t.Errorf("/a.txt: %v, owned %s, want root's", err, fileOwner(fi))
	}
	if _, err := os.Lstat(filepath.Join(dir, "secret.txt")); err == nil {
		t.Errorf("/secret.txt: its context's .dockerignore did not apply")
	}
	if layers, _ := img.Layers(); len(layers) != 1 {
		t.Errorf("%d layers, want one of the directory's files", len(layers))
	}

	// docker-image:// pulls what the store lacks, as FROM does
	host := registrytest.Start(t, nil)
	ref := host + "/named/busybox:1"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, testimage.Busybox(t)); err != nil {
		t.Fatal(err)
	}
	buildOK(t, Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte("FROM base\nRUN echo pulled > /p\n"), Tags: []string{"from-pulled"},
		Contexts: map[string]string{"base": "docker-image://" + ref}})
	dir, _ = view(t, root, "from-pulled")
	if got := read(t, dir, "p"); got != "pulled\n" {
		t.Errorf("/p: %q", got)
	}
	s, _, _ := image.OpenRoot(root)
	if _, _, err := s.Lookup(ref); err != nil {
		t.Errorf("the named context's image was not pulled: %v", err)
	}
}

func fileOwner(fi os.FileInfo) string {
	if fi == nil {
		return "?"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "?"
	}
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

// TestBuildNamedContextCache: a change in a named context's file runs
// the steps that read that file, and those after them; the others, and
// the steps reading another file of it, come from the cache. A stage
// FROM a directory is rebuilt when a file of it changes, not otherwise.
func TestBuildNamedContextCache(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{"main.txt": "main"})
	assets := fixture.Dir(t, map[string]string{"a.txt": "a", "b.txt": "b", "c.txt": "c"})
	rootfs := fixture.Dir(t, map[string]string{"etc/motd": "one\n"})
	df := `FROM rootfs AS base
COPY --from=busybox:test /bin/busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox date +%s%N > /stamp"]

FROM busybox:test
RUN date +%s%N > /before
COPY --from=assets a.txt /a
RUN date +%s%N > /mid
COPY --from=assets b.txt /b
RUN date +%s%N > /last
COPY --from=base /stamp /stamp
`
	o := Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte(df), Tags: []string{"named-cache"},
		Contexts: map[string]string{"assets": assets, "rootfs": rootfs}}
	first, _ := buildOK(t, o)

	// a file no step reads, in the named context and in the main one
	os.WriteFile(filepath.Join(assets, "c.txt"), []byte("c changed"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "main.txt"), []byte("main changed"), 0o644)
	again, out := buildOK(t, o)
	fixture.WantCached(t, "unread files changed", out, map[string]bool{"/before": true, "COPY --from=assets a.txt": true, "/mid": true,
		"COPY --from=assets b.txt": true, "/last": true, "/stamp": true})
	if again.ID != first.ID {
		t.Errorf("a change no step reads made image %s, the first %s", again.ID, first.ID)
	}

	os.WriteFile(filepath.Join(assets, "b.txt"), []byte("b changed"), 0o644)
	_, out = buildOK(t, o)
	fixture.WantCached(t, "b.txt changed", out, map[string]bool{"/before": true, "COPY --from=assets a.txt": true, "/mid": true,
		"COPY --from=assets b.txt": false, "/last": false, "/bin/busybox date": true, "COPY --from=base /stamp": false})
	dir, _ := view(t, root, "named-cache")
	if got := read(t, dir, "b"); got != "b changed" {
		t.Errorf("/b: %q", got)
	}

	os.WriteFile(filepath.Join(rootfs, "etc/motd"), []byte("two\n"), 0o644)
	_, out = buildOK(t, o)
	fixture.WantCached(t, "the rootfs changed", out, map[string]bool{"/before": true, "COPY --from=assets b.txt": true, "/last": true,
		"COPY --from=busybox:test": false, "/bin/busybox date": false, "COPY --from=base /stamp": false})
}

// TestBuildNamedContextBadValues: a value berth cannot take is refused
// before anything is made, in one line naming the context and value.
func TestBuildNamedContextBadValues(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{"f": "f"})
	file := filepath.Join(ctxDir, "f")
	for _, c := range []struct{ name, value, want string }{
		{"src", "target:other", "a bake target is not supported"},
		{"src", "oci-layout:///tmp/layout@sha256:abc", "an OCI layout context is not supported"},
		{"src", "https://example.com/ctx.tar", "a remote context (a URL or a git repository) is not supported"},
		{"src", "git@github.com:x/y.git", "a remote context"},
		{"src", "github.com/x/y", "a remote context"},
		{"src", "service:web", "only compose's build.additional_contexts"},
		{"src", filepath.Join(ctxDir, "nosuch"), "no such directory"},
		{"src", file, "not a directory"},
		{"src", "docker-image://Bad:Ref", "invalid image reference"},
		{"Bad Name", ctxDir, "invalid context name"},
	} {
		_, err := Build(context.Background(), Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte("FROM src\n"),
			Tags: []string{"bad-context"}, Contexts: map[string]string{c.name: c.value}})
		prefix := "build context " + c.name + "=" + c.value + ": "
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%s: error %v, want one line starting %q and saying %q", c.name, c.value, err, prefix, c.want)
		}
		if err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s=%s: error %v is of no class", c.name, c.value, err)
		}
	}
	s, _, _ := image.OpenRoot(root)
	if _, _, err := s.Lookup("bad-context"); err == nil {
		t.Errorf("a refused build tagged an image")
	}
	if left, _ := os.ReadDir(filepath.Join(root, "build")); len(left) > 0 {
		t.Errorf("left in the build directory: %v", left)
	}
	if _, err := ParseContexts([]string{"novalue"}); err == nil || !strings.Contains(err.Error(), `invalid context value "novalue": want NAME=VALUE`) {
		t.Errorf("ParseContexts: %v", err)
	}
}
