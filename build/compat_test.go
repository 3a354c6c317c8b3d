package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/registrytest"
	"github.com/berth-dev/berth/internal/testimage"
)

// The compatibility suite (issue 16: "compatibility is measured, not
// assumed"): each Dockerfile of testdata/compat is built by berth and by
// BuildKit itself (buildkitd at the version whose frontend berth links,
// scripts/buildkit-ref.sh), from the same base image in a registry on
// 127.0.0.1, and the two images must agree: their config, their history
// and the files of their layers, timestamps aside. A difference fails the
// case with the lines that differ (- berth's, + BuildKit's) and the
// content of the small files that differ. To see the tar entries
// behind a difference: BERTH_COMPAT_DUMP=PATH-PART go test -v -run
// 'TestCompat/CASE' ./build logs every entry whose path holds PATH-PART.

// compatCase is one build of the corpus.
type compatCase struct {
	name string
	// dir is the context, under testdata/compat; file the Dockerfile in
	// it ("Dockerfile" when empty).
	dir, file string
	target    string
	args      map[string]string
	// labels are --label values (the frontend's label: options)
	labels map[string]string
	// first, when set, is a Dockerfile of dir built (and compared) first,
	// whose image the case's Dockerfile names as FIRST_IMAGE.
	first string
	// setup adds generated files to the context (a copy of dir).
	setup func(t *testing.T, ctxDir string)
	// contexts are named build contexts, each a subdirectory of the
	// context of its name (--build-context NAME=DIR; buildctl's --local
	// and context:NAME=local:NAME)
	contexts []string
	// skip names the feature berth lacks, when it lacks one.
	skip string
}

// In the corpus' Dockerfiles, BASE_IMAGE is the base image in the
// registry (BASE_IMAGE_DIGEST the same by digest), FIRST_IMAGE the image of a case's first build, HTTP_SERVER
// the host:port of the test's HTTP server.
var compatCorpus = []compatCase{
	{name: "instructions", dir: "instructions"},
	{name: "multistage", dir: "multistage"},
	{name: "target", dir: "multistage", target: "middle"},
	{name: "labels", dir: "multistage", labels: map[string]string{"org.example.given": "by --label", "stage": "overridden by --label"}},
	{name: "copy-flags", dir: "copyflags", setup: setupXattr},
	{name: "context-owners", dir: "contextowners", setup: setupOwners},
	{name: "copy-link", dir: "copylink"},
	{name: "add-tar", dir: "addtar", setup: setupArchives},
	{name: "add-tar-hardlink-metadata", dir: "addtarlinks", setup: setupHardlinkArchive},
	{name: "add-url", dir: "addurl"},
	{name: "dockerignore", dir: "dockerignore"},
	{name: "heredoc", dir: "heredoc"},
	{name: "arg-before-from", dir: "argfrom"},
	{name: "arg-before-from-overridden", dir: "argfrom", args: map[string]string{"TAG_SUFFIX": "-other", "GREETING": "hi"}},
	{name: "onbuild", dir: "onbuild", first: "Dockerfile.base"},
	{name: "user", dir: "user"},
	{name: "volume", dir: "volume"},
	{name: "workdir", dir: "workdir"},
	{name: "shell", dir: "shell"},
	{name: "healthcheck", dir: "healthcheck"},
	{name: "env-expansion", dir: "envexpand", args: map[string]string{"FROM_ARG": "arg-value"}},
	{name: "layers", dir: "layers"},
	{name: "empty-steps", dir: "emptysteps", setup: func(t *testing.T, ctxDir string) {
		if err := os.MkdirAll(filepath.Join(ctxDir, "empty-dir"), 0o755); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "copy-semantics", dir: "copysem"},
	{name: "cmd-entrypoint", dir: "cmdentry"},
	{name: "scratch-run", dir: "scratchrun"},
	{name: "sandbox", dir: "sandbox"},
	{name: "from-digest", dir: "fromdigest"},
	{name: "add-tar-more", dir: "addtar2", setup: setupMoreArchives},
	{name: "platform-args", dir: "platformargs", args: map[string]string{"UNDECLARED": "x", "HTTP_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:10", "NO_PROXY": "localhost", "ALL_PROXY": "socks5://127.0.0.1:11"}},
	{name: "run-etc", dir: "runetc"},
	{name: "named-contexts", dir: "namedctx", contexts: []string{"assets", "rootfs"}, setup: setupNamed},
	{name: "named-context-root", dir: "namedctx", target: "root", contexts: []string{"assets", "rootfs"}, setup: setupNamed},
	{name: "named-context-only", dir: "namedctx", file: "Dockerfile.dironly", contexts: []string{"rootfs"}, setup: setupNamed},
}

// setupNamed gives the named contexts' files an owner of their own and
// an empty directory, which a directory context's layer makes root's.
func setupNamed(t *testing.T, ctxDir string) {
	if err := os.Chown(filepath.Join(ctxDir, "assets", "a.txt"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(ctxDir, "rootfs", "var", "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(ctxDir, "rootfs", "var", "empty"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
}

// TestCompat builds the corpus with both builders and compares.
func TestCompat(t *testing.T) {
	fixture.RequireRoot(t, "both builders run RUN steps in containers")
	bk := startBuildKit(t)
	env := &compatEnv{t: t, bk: bk, root: emptyRoot(t)}
	env.base = env.pushBase(t)
	env.http = startFileServer(t)
	for _, c := range compatCorpus {
		t.Run(c.name, func(t *testing.T) {
			if c.skip != "" {
				t.Skipf("berth lacks %s", c.skip)
			}
			env.run(t, c)
		})
	}
}

type compatEnv struct {
	t    *testing.T
	bk   *buildkit
	root string // berth's state root
	base string // the base image's reference in the registry
	// baseDigest names the base by its digest
	baseDigest string
	http       string // the HTTP server's host:port
}

// buildkit is a running buildkitd of scripts/buildkit-ref.sh.
type buildkit struct {
	addr, buildctl, registry string
}

// buildkitDir is where scripts/buildkit-ref.sh keeps its binaries.
func buildkitDir() string {
	if d := os.Getenv("BERTH_BUILDKIT_CACHE"); d != "" {
		return d
	}
	return "/var/cache/berth-test/buildkit-v0.34.2"
}

// startBuildKit starts buildkitd, with a registry on 127.0.0.1 that it
// may use over plain HTTP; both stop when the test ends.
func startBuildKit(t *testing.T) *buildkit {
	t.Helper()
	dir := buildkitDir()
	for _, b := range []string{"buildkitd", "buildctl"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			t.Skipf("BuildKit, the reference, is not built (%v): run `bash scripts/buildkit-ref.sh build` (scripts/test.sh does)", err)
		}
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc, which buildkitd runs its steps with, is not installed (apt-get install runc; scripts/deps.sh does)")
	}
	registry := registrytest.Start(t, nil)
	// short: the socket's path must fit a sockaddr_un
	state, err := os.MkdirTemp("", "bk")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join("..", "scripts", "buildkit-ref.sh")
	t.Cleanup(func() {
		if out, err := exec.Command("bash", script, "stop", state).CombinedOutput(); err != nil {
			t.Errorf("stopping buildkitd: %v\n%s", err, out)
		}
	})
	cmd := exec.Command("bash", script, "start", state, registry)
	cmd.Env = append(os.Environ(), "BERTH_BUILDKIT_CACHE="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("starting buildkitd: %v\n%s", err, stderr.String())
	}
	return &buildkit{addr: strings.TrimSpace(string(out)), buildctl: filepath.Join(dir, "buildctl"), registry: registry}
}

// build runs BuildKit's Dockerfile frontend on ctxDir and pushes the
// image as ref.
func (bk *buildkit) build(t *testing.T, ctxDir, file, target string, args, labels, contexts map[string]string, ref string) error {
	cmdArgs := []string{"--addr", bk.addr, "build", "--frontend", "dockerfile.v0",
		"--local", "context=" + ctxDir, "--local", "dockerfile=" + ctxDir, "--opt", "filename=" + file,
		"--output", "type=image,name=" + ref + ",push=true,registry.insecure=true"}
	if target != "" {
		cmdArgs = append(cmdArgs, "--opt", "target="+target)
	}
	for _, k := range slices.Sorted(maps.Keys(args)) {
		cmdArgs = append(cmdArgs, "--opt", "build-arg:"+k+"="+args[k])
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		cmdArgs = append(cmdArgs, "--opt", "label:"+k+"="+labels[k])
	}
	for _, k := range slices.Sorted(maps.Keys(contexts)) {
		cmdArgs = append(cmdArgs, "--local", k+"="+contexts[k], "--opt", "context:"+k+"=local:"+k)
	}
	out, err := exec.Command(bk.buildctl, cmdArgs...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("buildctl: %v\n%s", err, out)
	}
	return nil
}

// pushBase pushes the corpus' base image: busybox with more applets
// linked, a user and group beside root's, and a few config values
// that the builds inherit.
func (e *compatEnv) pushBase(t *testing.T) string {
	bb := testimage.Busybox(t)
	var entries []testimage.Entry
	for _, a := range []string{"mkdir", "touch", "chmod", "chown", "ln", "rm", "sort", "stat", "mkfifo", "find", "pwd", "printf", "tar", "cp", "mv", "seq", "head", "sed", "test", "whoami"} {
		entries = append(entries, testimage.Entry{Name: "bin/" + a, Type: tar.TypeSymlink, Link: "busybox"})
	}
	entries = append(entries,
		testimage.Entry{Name: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		testimage.Entry{Name: "etc/group", Body: "root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n"},
		testimage.Entry{Name: "home/"}, testimage.Entry{Name: "home/app/", UID: 1000, GID: 1000, Mode: 0o700},
		testimage.Entry{Name: "srv/", Mode: 0o750, UID: 1000, GID: 50},
		testimage.Entry{Name: "srv/existing", Body: "in the base\n"},
		testimage.Entry{Name: "srv/doomed/"},
		testimage.Entry{Name: "srv/doomed/a", Body: "a"},
		testimage.Entry{Name: "bin/capped", Body: "capped", Mode: 0o755, Xattrs: map[string]string{"security.capability": capNetBindService}},
	)
	img, err := mutate.AppendLayers(bb, testimage.Layer(t, entries...))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Env = append(cf.Config.Env, "BASE_ENV=from-base")
	cf.Config.Labels = map[string]string{"org.example.base": "yes"}
	cf.Config.WorkingDir = "/srv"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := e.bk.registry + "/compat/base:1"
	r, err := name.ParseReference(ref, name.Insecure)
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
	e.baseDigest = e.bk.registry + "/compat/base@" + d.String()
	return ref
}

// startFileServer serves the files ADD fetches by URL, each with a
// Last-Modified time.
func startFileServer(t *testing.T) string {
	modified := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	files := map[string]string{
		"/file.txt":         "fetched over http\n",
		"/dir/named.conf":   "conf=1\n",
		"/archive.tar":      string(testimage.Tar(t, testimage.Entry{Name: "in-archive", Body: "not extracted"})),
		"/query":            "with a query\n",
		"/script.sh":        "#!/bin/sh\necho hi\n",
		"/nolastmod/x.json": "{}\n",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/dir/named.conf", http.StatusFound)
			return
		}
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/nolastmod/") {
			w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// setupArchives writes the archives ADD extracts.
func setupArchives(t *testing.T, ctxDir string) {
	data := testimage.Tar(t,
		testimage.Entry{Name: "tree/"},
		testimage.Entry{Name: "tree/file", Body: "from the archive\n", Mode: 0o640, UID: 7, GID: 8},
		testimage.Entry{Name: "tree/exec", Body: "#!/bin/sh\n", Mode: 0o755},
		testimage.Entry{Name: "tree/link", Type: tar.TypeSymlink, Link: "file"},
		// a hard link's entry with its target's metadata, as tar writes it
		testimage.Entry{Name: "tree/hard", Type: tar.TypeLink, Link: "tree/file", Mode: 0o640, UID: 7, GID: 8},
		testimage.Entry{Name: "tree/sub/", Mode: 0o700},
		testimage.Entry{Name: "tree/sub/deep", Body: "deep\n"},
	)
	if err := os.WriteFile(filepath.Join(ctxDir, "plain.tar"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(filepath.Join(ctxDir, "packed.tar.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// setupMoreArchives writes archives in other compressions, one with
// whiteout entries, one whose directories are there already, and a gzip
// stream that holds no archive.
func setupMoreArchives(t *testing.T, ctxDir string) {
	data := testimage.Tar(t,
		testimage.Entry{Name: "packed/"},
		testimage.Entry{Name: "packed/file", Body: "packed\n", Mode: 0o604},
	)
	bz := exec.Command("busybox", "bzip2", "-c")
	bz.Stdin = bytes.NewReader(data)
	bzData, err := bz.Output()
	if err != nil {
		t.Fatalf("bzip2: %v", err)
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	zstData := enc.EncodeAll(data, nil)
	enc.Close()
	var fake bytes.Buffer
	zw := gzip.NewWriter(&fake)
	zw.Write([]byte("gzip, but no tar inside\n"))
	zw.Close()
	files := map[string][]byte{
		"packed.tar.bz2": bzData,
		"packed.tar.zst": zstData,
		"whiteouts.tar": testimage.Tar(t,
			testimage.Entry{Name: ".wh.existing", Body: ""},
			testimage.Entry{Name: "doomed/.wh.a", Body: ""},
			testimage.Entry{Name: "kept", Body: "kept\n"},
		),
		"dirs.tar": testimage.Tar(t,
			testimage.Entry{Name: "./srv/", Mode: 0o700, UID: 5, GID: 6},
			testimage.Entry{Name: "./srv/from-tar", Body: "t\n"},
			testimage.Entry{Name: "./newdir/sub/file", Body: "no parent entries\n"},
			testimage.Entry{Name: "/abs/file", Body: "absolute name\n"},
		),
		"fake.tar.gz": fake.Bytes(),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(ctxDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// setupOwners gives context files other owners than root, and special
// modes.
func setupOwners(t *testing.T, ctxDir string) {
	for _, e := range []struct {
		name string
		mode uint32
	}{{"owned/", 0o750}, {"owned/file", 0o4755}, {"owned/sticky/", 0o1777}, {"owned/setgid/", 0o2755}, {"owned/setgid/f", 0o640}} {
		name, mode := e.name, e.mode
		p := filepath.Join(ctxDir, name)
		var err error
		if strings.HasSuffix(name, "/") {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, []byte(name), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, 1234, 5678); err != nil {
			t.Fatal(err)
		}
		// after chown, which clears setuid and setgid
		if err := unix.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("file", filepath.Join(ctxDir, "owned/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(filepath.Join(ctxDir, "owned/link"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
}

// setupHardlinkArchive writes an archive whose hard link entry has
// other metadata than its target's.
func setupHardlinkArchive(t *testing.T, ctxDir string) {
	data := testimage.Tar(t,
		testimage.Entry{Name: "file", Body: "linked\n", Mode: 0o640, UID: 7, GID: 8},
		testimage.Entry{Name: "hard", Type: tar.TypeLink, Link: "file", Mode: 0o644},
	)
	if err := os.WriteFile(filepath.Join(ctxDir, "links.tar"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// capNetBindService is a file capability: cap_net_bind_service,
// permitted and effective (VFS_CAP_REVISION_2).
const capNetBindService = "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// setupXattr gives context files extended attributes: a user one and
// a file capability (cap_net_bind_service, permitted and effective).
func setupXattr(t *testing.T, ctxDir string) {
	for name, x := range map[string][2]string{
		"with-xattr": {"user.berth.test", "value"},
		"with-cap":   {"security.capability", capNetBindService},
	} {
		p := filepath.Join(ctxDir, name)
		if err := os.WriteFile(p, []byte("has an xattr\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Lsetxattr(p, x[0], []byte(x[1]), 0); err != nil {
			t.Logf("the context's filesystem takes no %s xattr (%v): %s has none", x[0], err, name)
		}
	}
}

// run builds one case with both builders and compares the images.
func (e *compatEnv) run(t *testing.T, c compatCase) {
	src := filepath.Join("testdata", "compat", c.dir)
	ctxDir := t.TempDir()
	// cp -a: the corpus has symlinks, which os.CopyFS refuses
	if out, err := exec.Command("cp", "-a", src+"/.", ctxDir).CombinedOutput(); err != nil {
		t.Fatalf("copying the context: %v\n%s", err, out)
	}
	if c.setup != nil {
		c.setup(t, ctxDir)
	}
	tag := strings.ReplaceAll(c.name, "_", "-")
	subst := map[string]string{"BASE_IMAGE_DIGEST": e.baseDigest, "BASE_IMAGE": e.base, "HTTP_SERVER": e.http}
	var contexts map[string]string
	for _, n := range c.contexts {
		if contexts == nil {
			contexts = map[string]string{}
		}
		contexts[n] = filepath.Join(ctxDir, n)
	}
	if c.first != "" {
		ref := e.bk.registry + "/compat/" + tag + "-first:1"
		e.compare(t, ctxDir, c.first, "", c.args, c.labels, contexts, subst, ref)
		subst["FIRST_IMAGE"] = ref
	}
	file := c.file
	if file == "" {
		file = "Dockerfile"
	}
	e.compare(t, ctxDir, file, c.target, c.args, c.labels, contexts, subst, e.bk.registry+"/compat/"+tag+":1")
}

// compare builds file with both builders, naming the image ref in each
// (pushed by BuildKit, tagged in berth's store), and compares them.
func (e *compatEnv) compare(t *testing.T, ctxDir, file, target string, args, labels, contexts, subst map[string]string, ref string) {
	p := filepath.Join(ctxDir, file)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	// the longest names first: BASE_IMAGE is in BASE_IMAGE_DIGEST
	keys := slices.SortedFunc(maps.Keys(subst), func(a, b string) int { return len(b) - len(a) })
	for _, k := range keys {
		text = strings.ReplaceAll(text, k, subst[k])
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.bk.build(t, ctxDir, file, target, args, labels, contexts, ref); err != nil {
		t.Fatalf("BuildKit's build of %s: %v", file, err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	want, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	_, err = Build(context.Background(), Options{Root: e.root, ContextDir: ctxDir, Dockerfile: p, Target: target,
		BuildArgs: args, Labels: labels, Contexts: contexts, Tags: []string{ref}, Progress: &progress})
	if err != nil {
		t.Fatalf("berth's build of %s: %v\n%s", file, err, progress.String())
	}
	s, _, err := image.OpenRoot(e.root)
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := s.Lookup(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffImages(t, got, want); d != "" {
		t.Errorf("%s: berth's image differs from BuildKit's (- berth, + BuildKit):\n%s", file, d)
	}
}

// diffImages says how got (berth's) differs from want (BuildKit's).
func diffImages(t *testing.T, got, want v1.Image) string {
	var out strings.Builder
	gcf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	wcf, err := want.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	diffLines(&out, "config", configLines(gcf), configLines(wcf))
	diffLines(&out, "config, the rest", rawConfigLines(t, got), rawConfigLines(t, want))
	diffLines(&out, "history", historyLines(gcf), historyLines(wcf))
	if g, w := len(gcf.RootFS.DiffIDs), len(wcf.RootFS.DiffIDs); g != w {
		fmt.Fprintf(&out, "layers: berth %d, BuildKit %d\n", g, w)
	}
	gt, wt := imageTree(t, got), imageTree(t, want)
	diffLines(&out, "files", treeLines(gt), treeLines(wt))
	// the content of small files that differ, to see why
	for _, p := range slices.Sorted(maps.Keys(gt)) {
		g, w := gt[p], wt[p]
		if g.typ == "file" && w.typ == "file" && g.digest != w.digest && g.size <= 4096 && w.size <= 4096 {
			fmt.Fprintf(&out, "%s, berth's:\n%s\n%s, BuildKit's:\n%s\n", p, indent(g.content), p, indent(w.content))
		}
	}
	return out.String()
}

func indent(s string) string {
	return "    | " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n    | ")
}

// configLines are the compared fields of an image config, one a line.
func configLines(cf *v1.ConfigFile) []string {
	c := cf.Config
	fields := []struct {
		name string
		v    any
	}{
		{"Env", c.Env}, {"Cmd", c.Cmd}, {"Entrypoint", c.Entrypoint}, {"WorkingDir", c.WorkingDir},
		{"User", c.User}, {"ExposedPorts", c.ExposedPorts}, {"Volumes", c.Volumes}, {"Labels", c.Labels},
		{"Healthcheck", c.Healthcheck}, {"StopSignal", c.StopSignal}, {"Shell", c.Shell}, {"OnBuild", c.OnBuild},
		{"ArgsEscaped", c.ArgsEscaped}, {"OS", cf.OS}, {"Architecture", cf.Architecture},
	}
	var out []string
	for _, f := range fields {
		j, _ := json.Marshal(f.v)
		out = append(out, f.name+": "+string(j))
	}
	return out
}

// rawConfigLines are the image config's fields that configLines and
// historyLines do not show, one leaf a line, as they are in the JSON:
// what neither the issue lists nor go-containerregistry knows must match
// too. The times, the history and the layers' digests are left out.
func rawConfigLines(t *testing.T, img v1.Image) []string {
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "created")
	delete(m, "history")
	delete(m, "rootfs")
	if c, ok := m["config"].(map[string]any); ok {
		for _, k := range []string{"Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels", "Healthcheck", "StopSignal", "Shell", "OnBuild", "ArgsEscaped"} {
			delete(c, k)
		}
	}
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if mv, ok := v.(map[string]any); ok && len(mv) > 0 {
			for _, k := range slices.Sorted(maps.Keys(mv)) {
				walk(prefix+"."+k, mv[k])
			}
			return
		}
		j, _ := json.Marshal(v)
		out = append(out, strings.TrimPrefix(prefix, ".")+": "+string(j))
	}
	walk("", m)
	return out
}

// historyLines are the history entries, times aside.
func historyLines(cf *v1.ConfigFile) []string {
	var out []string
	for i, h := range cf.History {
		out = append(out, fmt.Sprintf("%d: empty_layer=%v created_by=%q comment=%q", i, h.EmptyLayer, h.CreatedBy, h.Comment))
	}
	return out
}

// fileEntry is what is compared of a file of an image.
type fileEntry struct {
	typ      string
	mode     int64
	uid, gid int
	size     int64
	digest   string
	link     string
	xattrs   map[string]string
	dev      string
	content  string // a small file's, for the diff
}

func (f fileEntry) String() string {
	s := fmt.Sprintf("%s mode=%04o owner=%d:%d", f.typ, f.mode, f.uid, f.gid)
	switch f.typ {
	case "file":
		s += fmt.Sprintf(" size=%d sha256=%.12s", f.size, f.digest)
	case "symlink":
		s += " -> " + f.link
	case "char", "block":
		s += " dev=" + f.dev
	}
	for _, k := range slices.Sorted(maps.Keys(f.xattrs)) {
		s += fmt.Sprintf(" xattr:%s=%q", k, f.xattrs[k])
	}
	return s
}

// imageTree is the files of an image's layers, applied in order
// (whiteouts remove, opaque directories hide what is below), by path;
// a hard link is its target's content.
func imageTree(t *testing.T, img v1.Image) map[string]fileEntry {
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	tree := map[string]fileEntry{}
	// remove removes p's children, and p itself when self
	remove := func(p string, self bool) {
		for k := range tree {
			if (self && k == p) || strings.HasPrefix(k, p+"/") {
				delete(tree, k)
			}
		}
	}
	for li, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		// a layer's whiteouts and opaque markers hide what the layers
		// below have, never the layer's own entries
		var whiteouts, opaques []string
		var entries []string
		added := map[string]fileEntry{}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			p := path.Clean("/" + h.Name)
			if d := os.Getenv("BERTH_COMPAT_DUMP"); d != "" && strings.Contains(p, d) {
				t.Logf("layer %d: %+v", li, *h)
			}
			dir, base := path.Split(p)
			if base == ".wh..wh..opq" {
				opaques = append(opaques, path.Clean(dir))
				continue
			}
			if strings.HasPrefix(base, ".wh.") {
				whiteouts = append(whiteouts, path.Join(dir, strings.TrimPrefix(base, ".wh.")))
				continue
			}
			f := fileEntry{mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid}
			for k, v := range h.PAXRecords {
				if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
					if f.xattrs == nil {
						f.xattrs = map[string]string{}
					}
					f.xattrs[x] = v
				}
			}
			switch h.Typeflag {
			case tar.TypeDir:
				f.typ = "dir"
			case tar.TypeReg:
				f.typ = "file"
				data, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(data)
				f.size, f.digest = int64(len(data)), hex.EncodeToString(sum[:])
				if len(data) <= 4096 {
					f.content = string(data)
				}
			case tar.TypeLink:
				target := path.Clean("/" + h.Linkname)
				var ok bool
				if f, ok = added[target]; !ok {
					if f, ok = tree[target]; !ok {
						t.Fatalf("%s: hard link to %s, which is not there", p, h.Linkname)
					}
				}
			case tar.TypeSymlink:
				f.typ, f.link = "symlink", h.Linkname
			case tar.TypeChar, tar.TypeBlock:
				f.typ = map[byte]string{tar.TypeChar: "char", tar.TypeBlock: "block"}[h.Typeflag]
				f.dev = fmt.Sprintf("%d:%d", h.Devmajor, h.Devminor)
			case tar.TypeFifo:
				f.typ = "fifo"
			default:
				f.typ = fmt.Sprintf("type %c", h.Typeflag)
			}
			if _, ok := added[p]; !ok {
				entries = append(entries, p)
			}
			added[p] = f
		}
		rc.Close()
		for _, p := range whiteouts {
			remove(p, true)
		}
		for _, p := range opaques {
			remove(p, false)
		}
		for _, p := range entries {
			f := added[p]
			if old, ok := tree[p]; ok && old.typ == "dir" && f.typ != "dir" {
				remove(p, true)
			}
			tree[p] = f
		}
	}
	return tree
}

// treeLines are tree's files, one a line, in order.
func treeLines(tree map[string]fileEntry) []string {
	var out []string
	for _, p := range slices.Sorted(maps.Keys(tree)) {
		out = append(out, p+": "+tree[p].String())
	}
	return out
}

// diffLines writes the lines only got has (-) and only want has (+),
// in order, under a heading.
func diffLines(w io.Writer, heading string, got, want []string) {
	var d []string
	i, j := 0, 0
	for i < len(got) || j < len(want) {
		switch {
		case i < len(got) && j < len(want) && got[i] == want[j]:
			i++
			j++
		case j < len(want) && (i >= len(got) || !slices.Contains(got[i:], want[j])):
			d = append(d, "+ "+want[j])
			j++
		default:
			d = append(d, "- "+got[i])
			i++
		}
	}
	if len(d) > 0 {
		fmt.Fprintf(w, "%s:\n  %s\n", heading, strings.Join(d, "\n  "))
	}
}
