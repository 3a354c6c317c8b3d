package integration

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/monitor"
)

const appDockerfile = `FROM bb:1 AS base
ARG WHO=nobody
RUN echo "built for $WHO" > /built && echo scratch > /tmp/gone

FROM scratch AS assets
COPY page.txt /page.txt

FROM base
ENV GREETING=hello
WORKDIR /srv
COPY --from=assets /page.txt ./
COPY --chmod=0755 start.sh /usr/local/bin/start
RUN rm /tmp/gone
CMD ["start"]
`

// TestImageBuildRun: an image built with berth runs with berth: what its
// RUN wrote, the files COPY brought (from the context and another
// stage), its ENV, WORKDIR and CMD, and a build arg.
func TestImageBuildRun(t *testing.T) {
	root, run := busyboxRoot(t)
	ctx := project(t, map[string]string{
		"Dockerfile": appDockerfile,
		"page.txt":   "a page\n",
		"start.sh":   "#!/bin/sh\necho \"$GREETING from $(pwd)\"; cat /built page.txt; ls /tmp\n",
	})
	r := run("image", "build", "-t", "app:1", "--build-arg", "WHO=tests", ctx)
	if r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"[base 2/2] RUN echo \"built for tests\" > /built", // the step named with the arg expanded, as BuildKit does
		"[stage-2 3/4] COPY --chmod=0755 start.sh /usr/local/bin/start",
		"naming to docker.io/library/app:1",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("build printed on standard output: %q", r.stdout)
	}
	if ls := run("image", "ls", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(ls.stdout, "app:1\n") {
		t.Errorf("image ls lacks app:1:\n%s", ls.stdout)
	}
	out := run("container", "run", "--rm", "app:1")
	if want := "hello from /srv\nbuilt for tests\na page\n"; out.code != 0 || out.stdout != want {
		t.Errorf("run: exit %d, output %q, want %q\n%s", out.code, out.stdout, want, out.stderr)
	}
	noLeftovers(t, root)
	if left, _ := os.ReadDir(filepath.Join(root, "build")); len(left) > 0 {
		t.Errorf("build files left: %v", left)
	}

	// -q prints only the ID; --iidfile writes it; -f from elsewhere, or
	// from standard input
	iid := filepath.Join(t.TempDir(), "iid")
	df := filepath.Join(t.TempDir(), "Other.dockerfile")
	os.WriteFile(df, []byte("FROM bb:1\nCOPY page.txt /\n"), 0o644)
	q := run("image", "build", "-q", "--iidfile", iid, "-f", df, "-t", "other", ctx)
	id, _ := os.ReadFile(iid)
	if q.code != 0 || !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(q.stdout) || q.stdout != string(id)+"\n" || q.stderr != "" {
		t.Errorf("build -q: exit %d, stdout %q, iidfile %q, stderr %q", q.code, q.stdout, id, q.stderr)
	}
	r = berth(t, ctx, "FROM bb:1\nCMD [\"cat\", \"/etc/passwd\"]\n", "--root", root, "image", "build", "-f", "-", "-t", "stdin", ".")
	if r.code != 0 {
		t.Fatalf("build -f -: exit %d\n%s", r.code, r.stderr)
	}
	if out := run("container", "run", "--rm", "stdin"); !strings.HasPrefix(out.stdout, "root:x:0:0") {
		t.Errorf("run stdin: %q %s", out.stdout, out.stderr)
	}
}

// TestImageBuildContexts: --build-context names a directory (relative
// to where berth runs), used by COPY --from and as a stage's root, and
// an image (docker-image://) in place of a FROM; a value berth cannot
// take fails the build in one line naming it, leaving nothing.
func TestImageBuildContexts(t *testing.T) {
	root, run := busyboxRoot(t)
	ctx := project(t, map[string]string{
		"Dockerfile":              "FROM motd AS m\n\nFROM base\nCOPY --from=assets page.txt /page.txt\nCOPY --from=m /etc/motd /etc/motd\nCMD [\"cat\", \"/page.txt\", \"/etc/motd\"]\n",
		"assets/page.txt":         "a page\n",
		"elsewhere/etc/motd":      "motd\n",
		"elsewhere/.dockerignore": "nothing\n",
	})
	r := berth(t, ctx, "", "--root", root, "image", "build", "-t", "ctxs", "--build-context", "assets=./assets",
		"--build-context", "base=docker-image://bb:1", "--build-context", "motd="+filepath.Join(ctx, "elsewhere"), ".")
	if r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	if out := run("container", "run", "--rm", "ctxs"); out.code != 0 || out.stdout != "a page\nmotd\n" {
		t.Errorf("run: exit %d, output %q\n%s", out.code, out.stdout, out.stderr)
	}

	r = run("image", "build", "-t", "refused", "--build-context", "base=target:other", ctx)
	if want := "berth: build context base=target:other: a bake target is not supported by berth's builder\n"; r.code != 1 || r.stderr != want {
		t.Errorf("a target: context: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
	r = run("image", "build", "--build-context", "assets", ctx)
	if r.code == 0 || !strings.Contains(r.stderr, `invalid context value "assets": want NAME=VALUE`) {
		t.Errorf("a context without a value: exit %d\n%s", r.code, r.stderr)
	}
	if ls := run("image", "ls", "-q", "refused"); ls.stdout != "" {
		t.Errorf("a refused build tagged an image: %q", ls.stdout)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "build")); len(left) > 0 {
		t.Errorf("build files left: %v", left)
	}
	noLeftovers(t, root)
}

// TestImageBuildFails: a Dockerfile with a syntax error is refused naming
// its line; a failing RUN names its step, exit code and Dockerfile line,
// exits with its code (docker build exits 1), and leaves no tag,
// container, mount or file.
func TestImageBuildFails(t *testing.T) {
	root, run := busyboxRoot(t)
	ctx := project(t, map[string]string{
		"Dockerfile": "FROM bb:1\nCOPY a /a\nRUN echo output before; exit 7\nRUN echo never\n",
		"Syntax":     "FROM bb:1\nRUN true\nCOPY a\n",
		"a":          "a",
	})
	snapshots, _ := os.ReadDir(filepath.Join(root, "snapshots"))
	r := run("image", "build", "-t", "broken", ctx)
	if r.code != 7 {
		t.Errorf("exit %d, want 7", r.code)
	}
	for _, want := range []string{
		"#3 0.", "output before",
		`berth: [3/4] RUN echo output before; exit 7: process "/bin/sh -c echo output before; exit 7" did not complete successfully: exit code: 7 (Dockerfile:3)`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "] RUN echo never") {
		t.Errorf("a step after the failed one ran:\n%s", r.stderr)
	}
	if ls := run("image", "ls", "-q", "broken"); ls.stdout != "" {
		t.Errorf("the failed build tagged an image: %q", ls.stdout)
	}
	if ps := run("container", "ps", "-a", "-q"); ps.stdout != "" {
		t.Errorf("containers after the build: %q", ps.stdout)
	}
	if after, _ := os.ReadDir(filepath.Join(root, "snapshots")); len(after) != len(snapshots) {
		t.Errorf("%d snapshots before the build, %d after", len(snapshots), len(after))
	}
	if left, _ := os.ReadDir(filepath.Join(root, "build")); len(left) > 0 {
		t.Errorf("build files left: %v", left)
	}
	noLeftovers(t, root)

	r = run("image", "build", "-f", filepath.Join(ctx, "Syntax"), ctx)
	if want := "berth: dockerfile parse error on line 3: COPY requires at least two arguments"; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("syntax error: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
	r = run("image", "build", t.TempDir())
	if r.code != 1 || !strings.Contains(r.stderr, "failed to read dockerfile") {
		t.Errorf("no Dockerfile: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestImageBuildNoFrontend: berth reads Dockerfiles with berth-build,
// beside it; without it, a build fails with one line naming it, and
// leaves nothing behind.
func TestImageBuildNoFrontend(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	data, err := os.ReadFile(berthBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "berth"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ctx := project(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY a /a\n", "a": "a"})
	r := berthVia(t, filepath.Join(dir, "berth"), t.TempDir(), nil, "", "--root", root, "image", "build", "-t", "alone", ctx)
	want := "berth: berth-build, which reads Dockerfiles for berth, is not installed: " + filepath.Join(dir, "berth-build") + " does not exist (make build puts it beside berth)\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "build")); len(left) > 0 {
		t.Errorf("build files left: %v", left)
	}
	// the same berth with berth-build beside it builds
	if r := berth(t, t.TempDir(), "", "--root", root, "image", "build", "-t", "alone", ctx); r.code != 0 {
		t.Errorf("with berth-build: exit %d\n%s", r.code, r.stderr)
	}
	noLeftovers(t, root)
}

// TestImageBuildKilled: a build killed during a RUN leaves its step's
// container, mounts and files; the next build clears them.
func TestImageBuildKilled(t *testing.T) {
	root, run := busyboxRoot(t)
	ctx := project(t, map[string]string{"Dockerfile": "FROM bb:1\nRUN echo started; sleep 300\n"})
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
	steps := filepath.Join(filepath.Dir(monitor.RunDir(root)), "build")
	if left, _ := os.ReadDir(steps); len(left) != 1 {
		t.Fatalf("the killed build's step: %v, want its container's state", left)
	}
	if data, _ := os.ReadFile("/proc/self/mountinfo"); !strings.Contains(string(data), root) {
		t.Fatalf("the killed build left no mount: the test kills too late")
	}

	other := project(t, map[string]string{"Dockerfile": "FROM bb:1\nRUN true\n"})
	if r := run("image", "build", "-t", "next", other); r.code != 0 {
		t.Fatalf("next build: exit %d\n%s", r.code, r.stderr)
	}
	if left, _ := os.ReadDir(steps); len(left) > 0 {
		t.Errorf("step containers left: %v", left)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "build")); len(left) > 0 {
		t.Errorf("build files left: %v", left)
	}
	noLeftovers(t, root)
}

// TestBuildDockerForm: berth build -t TAG [-f FILE] PATH is docker
// build's, the same build as image build's; in a project's directory,
// berth build . is still docker build's, berth build SERVICE compose's.
func TestBuildDockerForm(t *testing.T) {
	root, run := busyboxRoot(t)
	ctx := project(t, map[string]string{
		"Dockerfile":     "FROM bb:1\nCOPY page.txt /page.txt\nCMD [\"cat\", \"/page.txt\"]\n",
		"Other.docker":   "FROM bb:1\nCMD [\"echo\", \"other\"]\n",
		"page.txt":       "docker form\n",
		"compose.yaml":   "name: dform\nservices:\n  web:\n    build: .\n",
		"sub/Dockerfile": "FROM bb:1\nCMD [\"echo\", \"sub\"]\n",
	})
	if r := berth(t, ctx, "", "--root", root, "build", "-t", "dform:1", "."); r.code != 0 {
		t.Fatalf("build -t dform:1 .: exit %d\n%s", r.code, r.stderr)
	}
	if out := run("container", "run", "--rm", "dform:1"); out.stdout != "docker form\n" {
		t.Errorf("run dform:1: %q %s", out.stdout, out.stderr)
	}
	if r := berth(t, ctx, "", "--root", root, "build", "-q", "-f", filepath.Join(ctx, "Other.docker"), "--tag", "dform:other", ctx); r.code != 0 || !strings.HasPrefix(r.stdout, "sha256:") {
		t.Fatalf("build -f Other.docker --tag dform:other: exit %d %q\n%s", r.code, r.stdout, r.stderr)
	}
	if out := run("container", "run", "--rm", "dform:other"); out.stdout != "other\n" {
		t.Errorf("run dform:other: %q %s", out.stdout, out.stderr)
	}
	// a path alone, no tag: an image known by its ID, as docker build's
	r := berth(t, ctx, "", "--root", root, "build", "-q", "./sub")
	if id := strings.TrimSpace(r.stdout); r.code != 0 || !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("build ./sub: exit %d %q\n%s", r.code, r.stdout, r.stderr)
	} else if out := run("container", "run", "--rm", id); out.stdout != "sub\n" {
		t.Errorf("run the ./sub image: %q %s", out.stdout, out.stderr)
	}
	// the service's name: compose's build of the project's service
	r = berth(t, ctx, "", "--root", root, "build", "web")
	if r.code != 0 || !strings.Contains(r.stderr, "naming to docker.io/library/dform-web:latest") {
		t.Errorf("build web: exit %d\n%s", r.code, r.stderr)
	}
}
