package integration

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fixture"
)

// buildStack is Docker's getting-started stack, busybox-made: web, built
// from its Dockerfile FROM the local busybox image, serves a page over
// HTTP and counts the visits in counter, a service of a stock image; a
// worker is built too, from an inline Dockerfile that only sets config.
const buildStack = `name: bstack
services:
  web:
    build: ./web
    init: true
    ports: ["127.0.0.1::8000"]
    depends_on: [counter]
  counter:
    image: bb:1
    init: true
    command: ["sh", "-c", "echo 0 > /tmp/n; while true; do busybox nc -l -p 6379 -e sh -c 'n=$$(($$(cat /tmp/n)+1)); echo $$n > /tmp/n; echo $$n'; done"]
  worker:
    build:
      context: ./web
      dockerfile_inline: |
        FROM bb:1
        ENV ROLE=worker
        CMD ["sleep", "1000"]
`

const webDockerfile = `FROM bb:1
COPY --chmod=0755 serve.sh /app/serve.sh
COPY greeting.txt /app/greeting.txt
RUN echo built > /app/built
CMD ["sh", "-c", "while true; do busybox nc -l -p 8000 -e /app/serve.sh; done"]
`

// serve.sh answers one HTTP request on its standard streams (nc -e),
// after reading it, with the greeting and the count the counter gives.
const webServe = `#!/bin/sh
while read -r line && [ ${#line} -gt 1 ]; do :; done
n=$(busybox nc counter 6379 </dev/null)
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n%s Visits: %s\n' "$(cat /app/greeting.txt)" "$n"
`

var visits = regexp.MustCompile(`(?s)^HTTP/1.0 200 OK\r\n.*\r\n\r\n(.*) Visits: (\d+)\n$`)

// visit fetches the page at addr, as curl would, and returns its greeting
// and visit count.
func visit(t *testing.T, addr string) (string, int) {
	t.Helper()
	var got string
	for range 50 {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.SetDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(c, "GET / HTTP/1.0\r\nHost: test\r\n\r\n")
			b, _ := io.ReadAll(c)
			c.Close()
			got = string(b)
			if m := visits.FindStringSubmatch(got); m != nil {
				n, _ := strconv.Atoi(m[2])
				return m[1], n
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no page at %s: last answer %q", addr, got)
	return "", 0
}

// TestComposeBuildStack: up --build builds the services' images (named
// <project>-<service>) and runs them: the built web serves a page and
// counts the visits in another service. A second up builds nothing and
// recreates nothing; a change in web's build context makes up --build
// recreate web alone: the worker, rebuilt from what did not change, gets
// the image it had, and keeps its container.
func TestComposeBuildStack(t *testing.T) {
	dir, _, compose := composeRoot(t, buildStack)
	os.MkdirAll(filepath.Join(dir, "web"), 0o755)
	for name, content := range map[string]string{"Dockerfile": webDockerfile, "serve.sh": webServe, "greeting.txt": "Hello from berth!"} {
		os.WriteFile(filepath.Join(dir, "web", name), []byte(content), 0o644)
	}
	r := compose("up", "--build", "-d")
	if r.code != 0 {
		t.Fatalf("up --build: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"[web 4/4] RUN echo built > /app/built", "[web 2/4] COPY --chmod=0755 serve.sh /app/serve.sh", "naming to docker.io/library/bstack-web",
		" Service web  Built", " Service worker  Built", " Container bstack-web-1  Started",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("up --build's progress lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Index(r.stderr, " Service web  Built") > strings.Index(r.stderr, "Network bstack_default  Creat") {
		t.Errorf("the network was made before the images were built:\n%s", r.stderr)
	}
	if ls := compose("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout; !strings.Contains(ls, "bstack-web:latest\n") || !strings.Contains(ls, "bstack-worker:latest\n") {
		t.Errorf("image ls:\n%s", ls)
	}
	port := strings.TrimSpace(compose("port", "web", "8000").stdout)
	greet, first := visit(t, port)
	if greet != "Hello from berth!" {
		t.Errorf("the page says %q", greet)
	}
	if _, second := visit(t, port); second != first+1 {
		t.Errorf("visits: %d then %d", first, second)
	}

	// nothing changed: nothing built, nothing recreated
	if r := compose("up", "-d"); r.code != 0 || strings.Contains(r.stderr, "Built") || strings.Contains(r.stderr, "Recreate") || strings.Contains(r.stderr, "Creat") {
		t.Errorf("a second up: exit %d\n%s", r.code, r.stderr)
	}

	// web's context changed: every built service is built again, web alone
	// is recreated
	os.WriteFile(filepath.Join(dir, "web", "greeting.txt"), []byte("Hello again!"), 0o644)
	r = compose("up", "--build", "-d")
	if r.code != 0 || !strings.Contains(r.stderr, " Service worker  Built") || !strings.Contains(r.stderr, "Container bstack-web-1  Recreated") {
		t.Errorf("up --build after a change: exit %d\n%s", r.code, r.stderr)
	}
	for _, kept := range []string{"bstack-worker-1  Recreate", "bstack-counter-1  Recreate"} {
		if strings.Contains(r.stderr, kept) {
			t.Errorf("up --build after web's change: %q\n%s", kept, r.stderr)
		}
	}
	// a new container, a new ephemeral port
	port = strings.TrimSpace(compose("port", "web", "8000").stdout)
	greet, third := visit(t, port)
	if greet != "Hello again!" || third <= first+1 {
		t.Errorf("after the change: %q, visit %d (the counter's count was %d)", greet, third, first+1)
	}
}

const buildArgsDockerfile = `FROM bb:1 AS base
ARG WHO=nobody
RUN echo "built for $WHO" > /built
CMD ["cat", "/built"]

FROM base AS final
ARG WHO
ARG EXTRA
RUN echo "final for $WHO$EXTRA" >> /built

FROM base AS broken
RUN exit 1
`

const buildArgsStack = `name: bcmd
services:
  app:
    build:
      context: ./app
      target: final
      args: {WHO: compose, EXTRA: }
      tags: ["bcmd-app:extra"]
      labels: {org.example.kind: test}
  always:
    build:
      context: ./app
      target: base
    pull_policy: build
    command: ["sleep", "1000"]
  other:
    image: bb:1
    command: ["sleep", "1000"]
`

// TestComposeBuildCommand: berth build builds a service's image with its
// build: section (target, args, an arg from the environment, extra tags,
// labels) and --build-arg over it; -q shows nothing; a service without
// build: is not built. up --no-build with an image missing fails and
// makes nothing; pull_policy: build builds at every up.
func TestComposeBuildCommand(t *testing.T) {
	dir, _, compose := composeRoot(t, buildArgsStack)
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "Dockerfile"), []byte(buildArgsDockerfile), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("EXTRA=!\n"), 0o644)

	r := compose("up", "--no-build", "-d")
	if r.code != 1 || !strings.Contains(r.stderr, `service "always": image bcmd-always is not here, and --no-build forbids building it`) {
		t.Errorf("up --no-build: exit %d\n%s", r.code, r.stderr)
	}
	if ps := compose("ps", "-a", "-q").stdout; ps != "" {
		t.Errorf("containers after a failed up --no-build: %q", ps)
	}
	if nets := compose("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(nets, "bcmd_default") {
		t.Errorf("up --no-build made the network:\n%s", nets)
	}

	r = compose("build", "--build-arg", "WHO=cli", "app", "other")
	if r.code != 0 || !strings.Contains(r.stderr, "[app final 1/1] RUN echo \"final for cli!\" >> /built") || strings.Contains(r.stderr, "broken") {
		t.Fatalf("build app: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "Service other") || strings.Contains(r.stderr, "Service always") {
		t.Errorf("build built what it was not asked to, or what has no build:\n%s", r.stderr)
	}
	for _, ref := range []string{"bcmd-app", "bcmd-app:extra"} {
		if out := compose("container", "run", "--rm", ref); out.stdout != "built for cli\nfinal for cli!\n" {
			t.Errorf("run %s: %q %s", ref, out.stdout, out.stderr)
		}
	}
	if l := compose("image", "inspect", "-f", `{{index .Config.Labels "org.example.kind"}}`, "bcmd-app").stdout; l != "test\n" {
		t.Errorf("the image's label: %q", l)
	}
	r = compose("build", "-q", "app")
	if r.code != 0 || r.stdout != "" || strings.Contains(r.stderr, "#1 ") {
		t.Errorf("build -q: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if out := compose("container", "run", "--rm", "bcmd-app"); out.stdout != "built for compose\nfinal for compose!\n" {
		t.Errorf("run after a build with the file's args: %q %s", out.stdout, out.stderr)
	}

	// app's image is here: up builds only always, whose policy is build
	for i := range 2 {
		r = compose("up", "-d")
		if r.code != 0 || !strings.Contains(r.stderr, " Service always  Built") || strings.Contains(r.stderr, "Service app") {
			t.Errorf("up #%d: exit %d\n%s", i+1, r.code, r.stderr)
		}
	}
}

// TestComposeBuildFails: a failing build fails up with the step, its
// output and its Dockerfile line named, and nothing made: no container,
// no network, no image; a build key berth does not honour is warned of
// by name, one it cannot honour with the value given refuses the build.
// berth build exits with the failed step's code, up --build with 1.
func TestComposeBuildFails(t *testing.T) {
	dir, _, compose := composeRoot(t, `name: bfail
services:
  web:
    build:
      context: .
      ssh: ["default"]
    depends_on: [db]
  db:
    image: bb:1
    command: ["sleep", "1000"]
`)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM bb:1\nRUN echo about to fail; exit 3\nCMD [\"true\"]\n"), 0o644)
	r := compose("up", "--build", "-d")
	if r.code != 1 {
		t.Errorf("up: exit %d, want 1", r.code)
	}
	for _, want := range []string{
		`warning: service "web": key "build.ssh" is not supported by berth and is ignored`,
		"[web 2/2] RUN echo about to fail; exit 3",
		"about to fail\n",
		"   2 | >>> RUN echo about to fail; exit 3\n",
		`berth: service "web": [2/2] RUN echo about to fail; exit 3: process "/bin/sh -c echo about to fail; exit 3" did not complete successfully: exit code: 3 (Dockerfile:2)`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if ps := compose("ps", "-a", "-q").stdout; ps != "" {
		t.Errorf("containers after a failed build: %q", ps)
	}
	if nets := compose("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(nets, "bfail_default") {
		t.Errorf("a failed build left the network:\n%s", nets)
	}
	if ls := compose("image", "ls", "-q", "bfail-web").stdout; ls != "" {
		t.Errorf("a failed build left an image: %q", ls)
	}
	// berth build exits with the failed step's code; up --build above
	// kept 1, its codes being its containers'
	if r := compose("build", "web"); r.code != 3 || !strings.Contains(r.stderr, "exit code: 3 (Dockerfile:2)") {
		t.Errorf("build: exit %d, want 3\n%s", r.code, r.stderr)
	}

	os.WriteFile(filepath.Join(dir, "refused.yaml"), []byte("name: bfail\nservices:\n  web:\n    build:\n      context: .\n      additional_contexts: {extra: ./x}\n"), 0o644)
	r = compose("-f", "refused.yaml", "build")
	if want := `berth: service "web": build.additional_contexts: build context extra=` + filepath.Join(dir, "x") + ": no such directory\n"; r.code != 1 || !strings.HasSuffix(r.stderr, want) {
		t.Errorf("build with a missing additional context: exit %d, stderr %q, want it to end %q", r.code, r.stderr, want)
	}
}

// TestComposeBuildContexts: build.additional_contexts name a directory
// (relative to the project's) and service:NAME, the image another
// service builds, which is built first (here, whose name sorts after);
// up builds it first too. A service: of no service is refused at load.
func TestComposeBuildContexts(t *testing.T) {
	dir, _, compose := composeRoot(t, `name: bctx
services:
  app:
    build:
      context: ./app
      additional_contexts:
        runtime: service:runtime
        shared: ./shared
  runtime:
    build: ./runtime
`)
	for p, body := range map[string]string{
		"runtime/Dockerfile": "FROM bb:1\nRUN echo runtime > /runtime\n",
		"app/Dockerfile":     "FROM runtime\nCOPY --from=shared note.txt /note.txt\nCMD [\"cat\", \"/runtime\", \"/note.txt\"]\n",
		"shared/note.txt":    "shared note\n",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644)
	}
	r := compose("build", "app")
	first, second := strings.Index(r.stderr, " Service runtime  Built"), strings.Index(r.stderr, " Service app  Built")
	if r.code != 0 || first < 0 || second < first {
		t.Fatalf("build app: exit %d, want runtime built, then app\n%s", r.code, r.stderr)
	}
	if out := compose("container", "run", "--rm", "bctx-app"); out.stdout != "runtime\nshared note\n" {
		t.Errorf("run bctx-app: %q %s", out.stdout, out.stderr)
	}

	if r := compose("image", "rm", "bctx-app", "bctx-runtime"); r.code != 0 {
		t.Fatalf("image rm: %s", r.stderr)
	}
	r = compose("up", "-d")
	first, second = strings.Index(r.stderr, " Service runtime  Built"), strings.Index(r.stderr, " Service app  Built")
	if r.code != 0 || first < 0 || second < first {
		t.Errorf("up: exit %d, want runtime built, then app\n%s", r.code, r.stderr)
	}

	os.WriteFile(filepath.Join(dir, "refused.yaml"), []byte("name: bctx\nservices:\n  app:\n    build:\n      context: ./app\n      additional_contexts: {runtime: \"service:nosuch\"}\n"), 0o644)
	r = compose("-f", "refused.yaml", "build")
	if want := `service "app" declares unknown service "nosuch" as additional contexts runtime` + "\n"; r.code != 1 || !strings.HasSuffix(r.stderr, want) {
		t.Errorf("a service: of no service: exit %d, stderr %q, want it to end %q", r.code, r.stderr, want)
	}
}

// TestComposeWatchRebuild: watch's rebuild action builds the service's
// image again when its context changes, and recreates its container on
// the new image.
func TestComposeWatchRebuild(t *testing.T) {
	dir, root, compose := composeRoot(t, `name: bwatch
services:
  app:
    build: ./app
    init: true
    develop:
      watch: [{path: ./app, action: rebuild}]
`)
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "Dockerfile"), []byte("FROM bb:1\nCOPY page.txt /page.txt\nCMD [\"sleep\", \"1000\"]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "app", "page.txt"), []byte("first\n"), 0o644)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	cmd := exec.Command(berthBin, "--root", root, "watch", "--no-up")
	cmd.Dir = dir
	var out fixture.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, &out, "the watch", func() bool { return strings.Contains(out.String(), "Watch enabled") })
	os.WriteFile(filepath.Join(dir, "app", "page.txt"), []byte("second\n"), 0o644)
	waitFor(t, &out, "the rebuild", func() bool {
		return compose("exec", "-T", "app", "cat", "/page.txt").stdout == "second\n"
	})
	for _, want := range []string{`Rebuilding service(s) ["app"] after changes were detected`, "[app 2/2] COPY page.txt /page.txt", "Container bwatch-app-1  Recreated"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("watch's output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestComposeBuildRunKeys: the build: keys that shape RUN steps reach
// them, as docker compose hands them to BuildKit: network, extra_hosts,
// shm_size, ulimits, a project secret (by its name, never in the image)
// and privileged (RUN --security=insecure allowed, with every capability).
func TestComposeBuildRunKeys(t *testing.T) {
	dir, _, compose := composeRoot(t, `name: bkeys
services:
  app:
    build:
      context: .
      network: none
      extra_hosts: ["db.example=10.9.8.7"]
      shm_size: 8m
      ulimits: {nofile: {soft: 1111, hard: 2222}}
      secrets: [token]
      privileged: true
secrets:
  token:
    file: ./token.txt
`)
	os.WriteFile(filepath.Join(dir, "token.txt"), []byte("s3cret"), 0o600)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(`FROM bb:1
RUN --mount=type=secret,id=token sh -c 's=$(cat /run/secrets/token); [ "${s%cret}" = s3 ] && echo secret-ok > /secret'
RUN cat /etc/hosts > /hosts; ulimit -n > /nofile; cat /proc/mounts > /mounts; cat /proc/net/dev > /netdev
RUN --security=insecure sh -c 'while read k v; do [ "$k" = CapEff: ] && echo $v || :; done < /proc/self/status > /capeff'
`), 0o644)
	if r := compose("build", "app"); r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	out := compose("container", "run", "--rm", "bkeys-app", "cat", "/secret", "/hosts", "/nofile", "/mounts", "/netdev", "/capeff").stdout
	// privileged: every capability this host has, as the host's root
	status, _ := os.ReadFile("/proc/self/status")
	_, capEff, _ := strings.Cut(string(status), "CapEff:\t")
	capEff, _, _ = strings.Cut(capEff, "\n")
	for _, want := range []string{"secret-ok\n", "10.9.8.7\tdb.example\n", "1111\n", "size=8192k", "\n" + capEff + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the RUN steps' record lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "eth0") {
		t.Errorf("network: none, but a RUN step had eth0:\n%s", out)
	}
	if r := compose("image", "save", "bkeys-app"); strings.Contains(r.stdout, "s3cret") {
		t.Error("the secret is in the image")
	}
}

// TestComposeBuildNoCache: build.no_cache_filter runs the steps of the
// stages it names and takes the others from the cache; build.no_cache
// and build --no-cache run every step.
func TestComposeBuildNoCache(t *testing.T) {
	dir, _, compose := composeRoot(t, `name: bnocache
services:
  filtered:
    build:
      context: .
      no_cache_filter: [app]
  plain:
    build:
      context: .
      dockerfile: Plain.dockerfile
  never:
    build:
      context: .
      dockerfile: Plain.dockerfile
      no_cache: true
`)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM bb:1 AS base\nRUN busybox date +%s%N > /base\nFROM base AS app\nRUN busybox date +%s%N > /app\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "Plain.dockerfile"), []byte("FROM bb:1\nRUN busybox date +%s%N > /plain\n"), 0o644)
	if r := compose("build"); r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	r := compose("build", "filtered")
	fixture.WantCached(t, "no_cache_filter: [app]", r.stderr, map[string]bool{"base 2/2] RUN": true, "app 1/1] RUN": false})
	r = compose("build", "never")
	fixture.WantCached(t, "no_cache: true", r.stderr, map[string]bool{"RUN busybox date +%s%N > /plain": false})
	r = compose("build", "plain")
	fixture.WantCached(t, "plain", r.stderr, map[string]bool{"RUN busybox date +%s%N > /plain": true})
	r = compose("build", "--no-cache", "plain")
	fixture.WantCached(t, "build --no-cache", r.stderr, map[string]bool{"RUN busybox date +%s%N > /plain": false})
}
