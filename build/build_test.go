package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/registrytest"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/runtime"
)

// libcontainer starts each RUN by re-executing this test binary as
// "<binary> init" inside the new namespaces.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.Init()
	}
}

// emptyRoot is a new state root, with nothing in it yet, whose runtime
// state directory and networks go when the test ends.
func emptyRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(runDir(root))) })
	tearDownNetworks(t, root)
	return root
}

// newRoot is a state root holding the busybox test image as
// busybox:test.
func newRoot(t testing.TB) string {
	t.Helper()
	fixture.RequireRoot(t, "RUN steps need namespaces, cgroups and overlay mounts")
	root := emptyRoot(t)
	s, snaps, err := image.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tarball.Write(name.MustParseReference("busybox:test"), testimage.Busybox(t), &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := image.Load(context.Background(), s, snaps, &buf); err != nil {
		t.Fatal(err)
	}
	return root
}

// view mounts the image ref's layers read-only and returns where.
func view(t *testing.T, root, ref string) (string, v1.Image) {
	t.Helper()
	s, snaps, err := image.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	_, img, err := s.Lookup(ref)
	if err != nil {
		t.Fatal(err)
	}
	lowers, err := snaps.Lowers(img)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "view")
	if err := runtime.MountLowers(lowers, dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runtime.Unmount(dir) })
	return dir, img
}

// layerNames lists the entries of an image's layer i.
func layerNames(t *testing.T, img v1.Image, i int) []string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[i].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

const multiStage = `FROM busybox:test AS base
RUN echo made > /made && echo gone > /gone && mkdir -p /dir/sub
RUN rm /gone

FROM scratch AS notes
COPY note.txt /note

FROM base
ARG GREETING=hello
ENV FOO=bar
WORKDIR /app
COPY --from=notes /note /app/note
COPY run.sh ./
COPY --chown=nobody:nogroup note.txt /owned
RUN ["sh", "-c", "echo $GREETING-$FOO > out; id -u >> out; rm /made"]
USER nobody
RUN id -u > /tmp/who
LABEL org.example.kind=test
EXPOSE 8080
ENTRYPOINT ["sh"]
CMD ["run.sh"]
`

// TestBuildMultiStage: a multi-stage Dockerfile becomes an image whose
// config is the Dockerfile's and whose files are what its steps made:
// RUN's writes, COPY's context file with its mode, a file from another
// stage, deletions as whiteouts.
func TestBuildMultiStage(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{"note.txt": "a note\n", "run.sh": "echo running\n", "Dockerfile": multiStage})
	os.Chmod(filepath.Join(ctxDir, "run.sh"), 0o751)
	var out bytes.Buffer
	res, err := Build(context.Background(), Options{
		Root: root, ContextDir: ctxDir, BuildArgs: map[string]string{"GREETING": "hey"},
		Tags: []string{"built:1", "built:also"}, Progress: &out,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if want := []string{"docker.io/library/built:1", "docker.io/library/built:also"}; !slices.Equal(res.Names, want) {
		t.Errorf("names %v, want %v", res.Names, want)
	}
	for _, want := range []string{"RUN echo made > /made", "COPY --from=notes /note /app/note", "#", "hey-bar", "DONE", "naming to docker.io/library/built:1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
	dir, img := view(t, root, "built:also")
	id, _ := img.ConfigName()
	if id != res.ID {
		t.Errorf("built:also is %s, the build said %s", id, res.ID)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !slices.Contains(c.Env, "FOO=bar") || c.WorkingDir != "/app" || c.User != "nobody" ||
		!slices.Equal(c.Entrypoint, []string{"sh"}) || !slices.Equal(c.Cmd, []string{"run.sh"}) ||
		c.Labels["org.example.kind"] != "test" {
		t.Errorf("config %+v", c)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v, want 8080/tcp", c.ExposedPorts)
	}
	if slices.ContainsFunc(c.Env, func(e string) bool { return strings.HasPrefix(e, "GREETING=") }) {
		t.Errorf("a build arg is in the image's environment: %v", c.Env)
	}
	files := map[string]string{"app/note": "a note\n", "app/run.sh": "echo running\n", "app/out": "hey-bar\n0\n", "tmp/who": "65534\n"}
	for p, want := range files {
		if got, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(got) != want {
			t.Errorf("/%s: %q (%v), want %q", p, got, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "app/run.sh")); err != nil || fi.Mode().Perm() != 0o751 {
		t.Errorf("/app/run.sh: %v (%v), want mode 0751 as in the context", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "dir/sub")); err != nil || !fi.IsDir() {
		t.Errorf("/dir/sub: %v", err)
	}
	for _, gone := range []string{"made", "gone"} {
		if _, err := os.Lstat(filepath.Join(dir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("/%s is in the image (%v)", gone, err)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(dir, "owned"), &st); err != nil || st.Uid != 65534 || st.Gid != 65534 {
		t.Errorf("/owned: owner %d:%d (%v), want nobody:nogroup, 65534:65534", st.Uid, st.Gid, err)
	}
	// busybox, 2 RUNs, WORKDIR, 3 COPYs, 2 RUNs: one layer each, and as
	// many history entries with a layer
	layers, _ := img.Layers()
	var withLayer int
	for _, h := range cf.History {
		if !h.EmptyLayer {
			withLayer++
		}
	}
	if len(layers) != 9 || withLayer != 9 {
		t.Errorf("%d layers, %d history entries with one; want 9 and 9: %+v", len(layers), withLayer, cf.History)
	}
	// the RUN that removed /made wrote a whiteout for it
	if names := layerNames(t, img, 7); !slices.Contains(names, ".wh.made") {
		t.Errorf("layer 7 lacks the whiteout of /made: %v", names)
	}
}

// TestBuildTarget: --target builds that stage, FROM scratch included,
// and leaves the stages it does not need unbuilt.
func TestBuildTarget(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{"note.txt": "a note\n", "run.sh": "x"})
	var out bytes.Buffer
	_, err := Build(context.Background(), Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte(multiStage),
		Target: "notes", Tags: []string{"notes"}, Progress: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "RUN") {
		t.Errorf("building the notes stage ran a RUN of another:\n%s", out.String())
	}
	dir, img := view(t, root, "notes")
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "note" {
		t.Errorf("the scratch stage holds %v, want only note", entries)
	}
	if layers, _ := img.Layers(); len(layers) != 1 {
		t.Errorf("%d layers, want 1", len(layers))
	}
}

// TestBuildFailingRun: a RUN that fails names its step and exit code,
// and the build leaves nothing: no tag, no snapshot, no mount, no
// container state, none of its files.
func TestBuildFailingRun(t *testing.T) {
	root := newRoot(t)
	snapsBefore, _ := os.ReadDir(filepath.Join(root, "snapshots"))
	ctxDir := fixture.Dir(t, map[string]string{"a": "a"})
	df := "FROM busybox:test\nCOPY a /a\nRUN echo about to fail; exit 3\nRUN echo never\n"
	var out bytes.Buffer
	_, err := Build(context.Background(), Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte(df), Tags: []string{"broken"}, Progress: &out})
	if err == nil {
		t.Fatal("the build succeeded")
	}
	if !errors.Is(err, ErrFailed) || !errors.Is(err, errclass.ErrFailed) {
		t.Errorf("error %v is not of class ErrFailed", err)
	}
	for _, want := range []string{"[3/4] RUN echo about to fail; exit 3", "exit code: 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// the Dockerfile excerpt after the failure shows the next line, but
	// no step of it began
	if !strings.Contains(out.String(), "about to fail") || strings.Contains(out.String(), "] RUN echo never") ||
		!strings.Contains(out.String(), "   3 | >>> RUN echo about to fail; exit 3\n") {
		t.Errorf("progress:\n%s", out.String())
	}
	s, _, _ := image.OpenRoot(root)
	if _, _, err := s.Lookup("broken"); !errors.Is(err, image.ErrNotFound) {
		t.Errorf("the failed build's tag exists: %v", err)
	}
	if after, _ := os.ReadDir(filepath.Join(root, "snapshots")); len(after) != len(snapsBefore) {
		t.Errorf("snapshots %d before, %d after", len(snapsBefore), len(after))
	}
	if left, _ := os.ReadDir(filepath.Join(root, "build")); len(left) > 0 {
		t.Errorf("build files left: %v", left)
	}
	if left, _ := os.ReadDir(runDir(root)); len(left) > 0 {
		t.Errorf("container state left: %v", left)
	}
	goruntime.LockOSThread()
	mounts, _ := os.ReadFile("/proc/thread-self/mountinfo")
	goruntime.UnlockOSThread()
	if strings.Contains(string(mounts), root) {
		t.Errorf("mounts left under %s", root)
	}
}

// TestBuildBadInput: what cannot be built is refused with a line that
// says why, naming the Dockerfile line or the operation.
func TestBuildBadInput(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{"a": "a"})
	for df, want := range map[string]string{
		"FROM busybox:test\nRUN true\nRUNN x\n":            "line 3: unknown instruction: RUNN",
		"FROM busybox:test\nCOPY missing.txt /\n":          `"/missing.txt": not found`,
		"FROM busybox:test\nRUN --mount=type=ssh true\n":   "RUN --mount=type=ssh is not supported",
		"FROM busybox:test\nADD http://127.0.0.1:9/x /x\n": "[2/2] ADD http://127.0.0.1:9/x /x: * connection refused",
		"FROM scratch\nRUN true\n":                         `[1/1] RUN true: * exec: "/bin/sh": stat /bin/sh: no such file or directory`,
		"FROM busybox:test\nRUN --network=host true\n":     "network.host is not allowed",
		// a build arg FROM uses, not given; stages that need each other
		"ARG BASE\nFROM $BASE\n": "base name ($BASE) should not be blank",
		"FROM busybox:test AS a\nCOPY --from=b /x /x\nFROM busybox:test AS b\nCOPY --from=a /x /x\n": "circular dependency detected on stage: a",
		"FROM busybox:test\nRUN exit 7\n": "[2/2] RUN exit 7: * exit code: 7 (Dockerfile:2)",
	} {
		_, err := Build(context.Background(), Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte(df), Tags: []string{"bad"}})
		// want's parts, split at " * ", are in the error in order
		if err == nil || !regexp.MustCompile(strings.ReplaceAll(regexp.QuoteMeta(want), ` \* `, ".*")).MatchString(err.Error()) {
			t.Errorf("%q: error %v, want one containing %q", df, err, want)
		}
	}
	if _, err := Build(context.Background(), Options{Root: root, ContextDir: ctxDir}); err == nil || !strings.Contains(err.Error(), "Dockerfile: no such file") {
		t.Errorf("no Dockerfile: %v", err)
	}
	if _, err := Build(context.Background(), Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte("FROM busybox:test AS a\n"), Target: "nosuch"}); err == nil || !strings.Contains(err.Error(), `target stage "nosuch" could not be found`) {
		t.Errorf("an unknown target: %v", err)
	}
}

// TestBuildPullsBase: a FROM image that is not in the store is pulled
// (here from a registry on 127.0.0.1), then built upon.
func TestBuildPullsBase(t *testing.T) {
	fixture.RequireRoot(t, "RUN steps need namespaces, cgroups and overlay mounts")
	host := registrytest.Start(t, nil)
	ref := host + "/base/busybox:1"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, testimage.Busybox(t)); err != nil {
		t.Fatal(err)
	}
	root := emptyRoot(t)
	var out bytes.Buffer
	df := "FROM " + ref + "\nRUN echo on top > /top\n"
	if _, err := Build(context.Background(), Options{Root: root, ContextDir: t.TempDir(), DockerfileInline: []byte(df), Tags: []string{"pulled"}, Progress: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "load metadata for "+ref) {
		t.Errorf("progress does not show the pull:\n%s", out.String())
	}
	dir, _ := view(t, root, "pulled")
	if got, err := os.ReadFile(filepath.Join(dir, "top")); string(got) != "on top\n" {
		t.Errorf("/top: %q (%v)", got, err)
	}
	s, _, _ := image.OpenRoot(root)
	if _, _, err := s.Lookup(ref); err != nil {
		t.Errorf("the base is not in the store after the build: %v", err)
	}
}

// TestBuildAdd: ADD copies a context file as COPY does and extracts a
// tar archive (here gzip-compressed) into the destination.
func TestBuildAdd(t *testing.T) {
	root := newRoot(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(testimage.Tar(t, testimage.Entry{Name: "inner/"}, testimage.Entry{Name: "inner/file", Body: "from the archive", Mode: 0o600}))
	zw.Close()
	ctxDir := fixture.Dir(t, map[string]string{"plain.txt": "plain", "arch.tar.gz": gz.String()})
	df := "FROM busybox:test\nADD plain.txt /p\nADD arch.tar.gz /x/\n"
	var out bytes.Buffer
	if _, err := Build(context.Background(), Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte(df), Tags: []string{"added"}, Progress: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	dir, _ := view(t, root, "added")
	for p, want := range map[string]string{"p": "plain", "x/inner/file": "from the archive"} {
		if got, err := os.ReadFile(filepath.Join(dir, p)); string(got) != want {
			t.Errorf("/%s: %q (%v), want %q", p, got, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "x/inner/file")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("/x/inner/file: %v, want the archive's mode 0600", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x/arch.tar.gz")); err == nil {
		t.Errorf("the archive itself was copied")
	}
}
