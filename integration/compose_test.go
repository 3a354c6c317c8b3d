package integration

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/registrytest"
)

// composeRoot is a berth root with the busybox image bb:1 and a project
// directory holding compose.yaml; compose runs berth there.
func composeRoot(t testing.TB, yaml string) (dir, root string, compose func(args ...string) result) {
	t.Helper()
	root, _ = busyboxRoot(t)
	keepForwarding(t)
	dir = project(t, map[string]string{"compose.yaml": yaml})
	compose = func(args ...string) result {
		t.Helper()
		return berth(t, dir, "", append([]string{"--root", root}, args...)...)
	}
	t.Cleanup(func() { compose("down", "-v", "-t", "0", "--remove-orphans") })
	return dir, root, compose
}

const stack = `name: shop
services:
  db:
    image: bb:1
    init: true
    command: ["sh", "-c", "echo $$GREETING > /data/greeting; while true; do busybox nc -l -p 6379 -e cat /data/greeting; done"]
    environment: {GREETING: hello from db}
    volumes: [data:/data]
    healthcheck:
      test: ["CMD-SHELL", "test -s /data/greeting"]
      interval: 200ms
  migrate:
    image: bb:1
    command: ["sh", "-c", "echo migrated"]
    depends_on:
      db: {condition: service_healthy}
  web:
    image: bb:1
    init: true
    command: ["sh", "-c", "while true; do busybox nc -l -p 7000 -e busybox nc db 6379; done"]
    ports: ["127.0.0.1::7000"]
    depends_on:
      migrate: {condition: service_completed_successfully}
volumes:
  data: {}
`

// TestComposeUp: a stack with a healthy database on a named volume, a
// one-shot migration and a web front that reaches the database by its
// service name through the embedded DNS, published on the host; a second
// up changes nothing; a changed service alone is recreated, with the
// reason; down removes containers and network but not the volume, down -v
// the volume too; ps and logs work from labels without the file.
func TestComposeUp(t *testing.T) {
	dir, root, compose := composeRoot(t, stack)
	r := compose("up", "-d", "--wait")
	if r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{" Network shop_default  Created", " Volume shop_data  Created", " Container shop-db-1  Healthy", " Container shop-migrate-1  Exited", " Container shop-web-1  Started"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("up's progress lacks %q:\n%s", want, r.stderr)
		}
	}
	labels := compose("container", "inspect", "-f", `{{index .Config.Labels "com.docker.compose.project"}} {{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "com.docker.compose.container-number"}} {{index .Config.Labels "com.docker.compose.oneoff"}} {{index .Config.Labels "com.docker.compose.image"}}`, "shop-web-1").stdout
	if f := strings.Fields(labels); len(f) != 5 || strings.Join(f[:4], " ") != "shop web 1 False" || !strings.HasPrefix(f[4], "sha256:") {
		t.Errorf("compose labels: %q", labels)
	}
	ps := compose("ps", "-a", "--format", "{{.Name}} {{.Service}} {{.State}} {{.Health}} {{.ExitCode}}").stdout
	if ps != "shop-db-1 db running healthy 0\nshop-migrate-1 migrate exited  0\nshop-web-1 web running  0\n" {
		t.Errorf("ps -a:\n%s", ps)
	}
	port := strings.TrimSpace(compose("port", "web", "7000").stdout)
	if got := greeting(port); got != "hello from db\n" {
		t.Errorf("through web's published port %s: %q", port, got)
	}
	if logs := compose("logs", "migrate").stdout; logs != "migrate-1  | migrated\n" {
		t.Errorf("logs migrate: %q", logs)
	}
	// again: nothing to do
	if r := compose("up", "-d"); r.code != 0 || strings.Contains(r.stderr, "Recreate") || strings.Contains(r.stderr, "Creat") {
		t.Errorf("a second up: exit %d\n%s", r.code, r.stderr)
	}
	// a changed environment recreates db alone; the plan says why
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(strings.Replace(stack, "hello from db", "hello again", 1)), 0o644)
	if r := compose("--dry-run", "up", "-d"); !strings.Contains(r.stderr, "Container shop-db-1  recreate (dry run): environment.GREETING changed") ||
		!strings.Contains(r.stderr, "Container shop-web-1  keep (dry run)") {
		t.Errorf("dry run:\n%s", r.stderr)
	}
	if r := compose("up", "-d", "--wait"); r.code != 0 || !strings.Contains(r.stderr, "Container shop-db-1  Recreated") || strings.Contains(r.stderr, "shop-web-1  Recreate") {
		t.Errorf("up after a change: exit %d\n%s", r.code, r.stderr)
	}
	if got := greeting(port); got != "hello again\n" {
		t.Errorf("after the change: %q", got)
	}
	// from labels alone, elsewhere
	elsewhere := t.TempDir()
	other := func(args ...string) result {
		return berth(t, elsewhere, "", append([]string{"--root", root}, args...)...)
	}
	if ps := other("-p", "shop", "ps", "--services").stdout; ps != "db\nweb\n" {
		t.Errorf("ps --services without the file: %q", ps)
	}
	// the migration ran at each up, as compose starts an exited one-shot
	if logs := other("-p", "shop", "logs", "migrate").stdout; logs != strings.Repeat("migrate-1  | migrated\n", 3) {
		t.Errorf("logs without the file: %q", logs)
	}
	if r := other("-p", "shop", "stop", "web"); r.code != 0 || !strings.Contains(r.stderr, "shop-web-1  Stopped") {
		t.Errorf("stop without the file: exit %d\n%s", r.code, r.stderr)
	}
	if r := other("-p", "shop", "down", "-t", "1"); r.code != 0 || !strings.Contains(r.stderr, "Network shop_default  Removed") {
		t.Errorf("down without the file: exit %d\n%s", r.code, r.stderr)
	} else {
		// compose's order: web (which depends on db) stopped before db is
		// stopped; the network after every container is removed
		at := func(s string) int { return strings.Index(r.stderr, s) }
		if at("shop-web-1  Stopped") > at("shop-db-1  Stopping") || at("Network shop_default  Removing") < strings.LastIndex(r.stderr, "-1  Removed") {
			t.Errorf("down's order:\n%s", r.stderr)
		}
	}
	if ps := compose("ps", "-a", "-q").stdout; ps != "" {
		t.Errorf("containers left after down: %q", ps)
	}
	if vols := compose("volume", "ls", "-q").stdout; vols != "shop_data\n" {
		t.Errorf("down removed the volume, or left others: %q", vols)
	}
	// the data is still there for the next up; down -v removes it
	if r := compose("up", "-d", "--wait", "db"); r.code != 0 {
		t.Fatalf("up db: %s", r.stderr)
	}
	if r := compose("down", "-v", "-t", "1"); r.code != 0 || !strings.Contains(r.stderr, "Volume shop_data  Removed") {
		t.Errorf("down -v: exit %d\n%s", r.code, r.stderr)
	}
	if vols := compose("volume", "ls", "-q").stdout; vols != "" {
		t.Errorf("volumes after down -v: %q", vols)
	}
}

// TestComposeScale: replicas are numbered, resolve together under the
// service's name, and go highest first when scaled down.
func TestComposeScale(t *testing.T) {
	_, _, compose := composeRoot(t, `name: sc
services:
  api:
    image: bb:1
    command: ["sleep", "60"]
    init: true
  client:
    image: bb:1
    command: ["sleep", "60"]
    init: true
`)
	if r := compose("up", "-d", "--scale", "api=3"); r.code != 0 {
		t.Fatalf("up --scale: %s", r.stderr)
	}
	if ps := compose("ps", "--format", "{{.Name}}", "api").stdout; ps != "sc-api-1\nsc-api-2\nsc-api-3\n" {
		t.Errorf("ps after scale 3: %q", ps)
	}
	out := compose("exec", "-T", "client", "busybox", "nslookup", "-type=a", "api").stdout
	if n := strings.Count(out, "Address: 10.") + strings.Count(out, "Address: 172.") + strings.Count(out, "Address: 192."); n != 3 {
		t.Errorf("api resolves to %d addresses, want 3:\n%s", n, out)
	}
	if r := compose("up", "-d", "--scale", "api=1"); r.code != 0 || !strings.Contains(r.stderr, "sc-api-3  Removed") {
		t.Errorf("scale down: exit %d\n%s", r.code, r.stderr)
	}
	if ps := compose("ps", "--format", "{{.Name}}", "api").stdout; ps != "sc-api-1\n" {
		t.Errorf("ps after scale 1: %q", ps)
	}
	if r := compose("up", "-d", "--scale", "nope=2"); r.code == 0 || !strings.Contains(r.stderr, "no such service: nope") {
		t.Errorf("scale of an unknown service: exit %d, %q", r.code, r.stderr)
	}
}

// TestComposeFailures: a dependency that never gets healthy stops up,
// naming it and its last health output, and what already ran stays; a
// failed one-shot dependency stops up with its exit code; orphans are
// reported, then removed with --remove-orphans.
func TestComposeFailures(t *testing.T) {
	dir, _, compose := composeRoot(t, `name: bad
services:
  db:
    image: bb:1
    command: ["sleep", "60"]
    init: true
    healthcheck:
      test: ["CMD-SHELL", "echo not yet; false"]
      interval: 100ms
      retries: 2
  web:
    image: bb:1
    command: ["sleep", "60"]
    depends_on:
      db: {condition: service_healthy}
`)
	r := compose("up", "-d")
	if r.code == 0 || !strings.Contains(r.stderr, "dependency failed to start: container bad-db-1 is unhealthy: not yet") {
		t.Errorf("unhealthy dependency: exit %d\n%s", r.code, r.stderr)
	}
	if ps := compose("ps", "-a", "--format", "{{.Name}} {{.State}} {{.Health}}").stdout; ps != "bad-db-1 running unhealthy\n" {
		t.Errorf("after the failed up: %q", ps)
	}
	// fixed, a second up completes the rest
	fixed, _ := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(strings.Replace(string(fixed), "echo not yet; false", "true", 1)), 0o644)
	if r := compose("up", "-d", "--wait"); r.code != 0 || !strings.Contains(r.stderr, "bad-db-1  Recreated") || !strings.Contains(r.stderr, "bad-web-1  Started") {
		t.Errorf("up after the fix: exit %d\n%s", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(`name: bad
services:
  job:
    image: bb:1
    command: ["sh", "-c", "exit 3"]
  web:
    image: bb:1
    command: ["sleep", "60"]
    depends_on:
      job: {condition: service_completed_successfully}
`), 0o644)
	r = compose("up", "-d")
	if r.code == 0 || !strings.Contains(r.stderr, `service "job" didn't complete successfully: exit 3`) || !strings.Contains(r.stderr, "Found orphan containers (bad-db-1)") {
		t.Errorf("failed job: exit %d\n%s", r.code, r.stderr)
	}
	if r := compose("up", "-d", "--remove-orphans", "job"); !strings.Contains(r.stderr, "bad-db-1  Removed") {
		t.Errorf("--remove-orphans: exit %d\n%s", r.code, r.stderr)
	}
	// an image that is not there (and may not be pulled): nothing is made
	os.WriteFile(filepath.Join(dir, "other.yaml"), []byte("name: other\nservices:\n  x:\n    image: nosuch:1\n    pull_policy: never\n"), 0o644)
	if r := compose("-f", "other.yaml", "up", "-d"); r.code == 0 || !strings.Contains(r.stderr, `service "x"`) || !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("a missing image: exit %d, %q", r.code, r.stderr)
	}
	if nets := compose("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(nets, "other_default") {
		t.Errorf("a failed up left its network: %q", nets)
	}
	// an image compose would build: never pulled (its name is no
	// registry's) but built, here from a context without a Dockerfile:
	// refused naming the service and the file, nothing made; an image of
	// that name already here is used without a build
	os.WriteFile(filepath.Join(dir, "built.yaml"), []byte("name: built\nservices:\n  app:\n    build: .\n    command: [\"true\"]\n"), 0o644)
	if r := compose("-f", "built.yaml", "up", "-d"); r.code == 0 || !strings.Contains(r.stderr, `service "app": failed to read dockerfile: open `+filepath.Join(dir, "Dockerfile")) {
		t.Errorf("a service to build without a Dockerfile: exit %d, %q", r.code, r.stderr)
	}
	if nets := compose("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(nets, "built_default") {
		t.Errorf("a failed build left a network: %q", nets)
	}
	compose("image", "tag", "bb:1", "built-app")
	if r := compose("-f", "built.yaml", "up", "-d"); r.code != 0 {
		t.Errorf("a service to build, its image loaded: exit %d, %q", r.code, r.stderr)
	}
	compose("-f", "built.yaml", "down")
	// a volume driver berth has not, a mount target compose-go reads as a
	// Windows drive (v:/data): refused before anything is made
	for _, tc := range []struct{ file, yaml, want string }{
		{"vdriver.yaml", "name: vd\nservices:\n  x:\n    image: bb:1\n    volumes: [\"vol:/v\"]\nvolumes:\n  vol: {driver: weird}\n", `volume vol: driver "weird" is not supported`},
		{"vdrive.yaml", "name: vd\nservices:\n  x:\n    image: bb:1\n    volumes: [\"v:/data\"]\n", `service "x": volume target "v:/data" must be an absolute path`},
	} {
		os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.yaml), 0o644)
		if r := compose("-f", tc.file, "up", "-d"); r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, %q", tc.file, r.code, r.stderr)
		}
		if nets := compose("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(nets, "vd_default") {
			t.Errorf("%s left a network: %q", tc.file, nets)
		}
	}
	// a network berth cannot make: refused before any network is made
	os.WriteFile(filepath.Join(dir, "nets.yaml"), []byte("name: nets\nservices:\n  x:\n    image: bb:1\n    networks: [a, b]\nnetworks:\n  a: {}\n  b: {ipam: {driver: weird}}\n"), 0o644)
	if r := compose("-f", "nets.yaml", "up", "-d"); r.code == 0 || !strings.Contains(r.stderr, `network b: ipam driver "weird" is not supported`) {
		t.Errorf("an ipam driver: exit %d, %q", r.code, r.stderr)
	}
	if nets := compose("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(nets, "nets_") {
		t.Errorf("a refused network left another: %q", nets)
	}
	// a fixed name cannot be scaled: refused before anything is made
	os.WriteFile(filepath.Join(dir, "named.yaml"), []byte("name: named\nservices:\n  x:\n    image: bb:1\n    container_name: only\n"), 0o644)
	if r := compose("-f", "named.yaml", "up", "-d", "--scale", "x=2"); r.code == 0 || !strings.Contains(r.stderr, `container_name "only" must be unique`) {
		t.Errorf("--scale with container_name: exit %d, %q", r.code, r.stderr)
	}
	if nets := compose("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(nets, "named_default") {
		t.Errorf("a refused --scale left a network: %q", nets)
	}
	// another machine's platform: refused before any pull, nothing made
	os.WriteFile(filepath.Join(dir, "arm.yaml"), []byte("name: arm\nservices:\n  x:\n    image: bb:1\n    platform: linux/s390x\n"), 0o644)
	if r := compose("-f", "arm.yaml", "up", "-d"); r.code == 0 || !strings.Contains(r.stderr, `service "x": platform "linux/s390x" is not this machine's`) {
		t.Errorf("a foreign platform: exit %d, %q", r.code, r.stderr)
	}
	if nets := compose("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(nets, "arm_default") {
		t.Errorf("a refused platform left a network: %q", nets)
	}
	// a port taken by another process: the service that needs it fails,
	// what ran before it keeps running, and an up after the port is free
	// completes the rest
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	taken := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	os.WriteFile(filepath.Join(dir, "port.yaml"), []byte(`name: port
services:
  db:
    image: bb:1
    init: true
    command: ["sleep", "60"]
  web:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    ports: ["127.0.0.1:`+taken+`:80"]
    depends_on: [db]
`), 0o644)
	t.Cleanup(func() { compose("-f", "port.yaml", "down", "-t", "0") })
	if r := compose("-f", "port.yaml", "up", "-d"); r.code == 0 || !strings.Contains(r.stderr, `service "web"`) || !strings.Contains(r.stderr, "127.0.0.1:"+taken+" failed: port is already allocated") {
		t.Errorf("up with a port taken: exit %d, %q", r.code, r.stderr)
	}
	if ps := compose("-f", "port.yaml", "ps", "-a", "--format", "{{.Service}} {{.State}}").stdout; ps != "db running\n" {
		t.Errorf("after the port's refusal: %q", ps)
	}
	l.Close()
	if r := compose("-f", "port.yaml", "up", "-d"); r.code != 0 || !strings.Contains(r.stderr, "port-web-1  Started") || strings.Contains(r.stderr, "port-db-1  Recreate") {
		t.Errorf("up once the port is free: exit %d, %q", r.code, r.stderr)
	}
	// up --wait reports a service that fails right after its start
	os.WriteFile(filepath.Join(dir, "crash.yaml"), []byte("name: crash\nservices:\n  x:\n    image: bb:1\n    command: [\"sh\", \"-c\", \"sleep 0.2; exit 4\"]\n"), 0o644)
	if r := compose("-f", "crash.yaml", "up", "-d", "--wait"); r.code == 0 || !strings.Contains(r.stderr, "container crash-x-1 exited (4)") || !strings.Contains(r.stderr, "crash-x-1  Waiting") {
		t.Errorf("up --wait of a failing service: exit %d, %q", r.code, r.stderr)
	}
	compose("-f", "crash.yaml", "down")
	if r := compose("up", "-d", "--exit-code-from", "nope"); r.code != 125 {
		t.Errorf("--exit-code-from an unknown service: exit %d, %q", r.code, r.stderr)
	}
	if r := compose("up", "-d", "--abort-on-container-exit"); r.code != 125 || !strings.Contains(r.stderr, "incompatible with --detach") {
		t.Errorf("-d with --abort-on-container-exit: exit %d, %q", r.code, r.stderr)
	}
}

// TestComposeAttached: attached up streams prefixed logs; with
// --exit-code-from it returns that service's code once it exits and stops
// the rest; a plain attached up stops gracefully on SIGINT.
func TestComposeAttached(t *testing.T) {
	dir, root, compose := composeRoot(t, `name: att
services:
  job:
    image: bb:1
    command: ["sh", "-c", "echo working; sleep 0.3; exit 4"]
  svc:
    image: bb:1
    command: ["sh", "-c", "echo serving; exec sleep 60"]
    init: true
`)
	r := compose("up", "--exit-code-from", "job")
	if r.code != 4 || !strings.Contains(r.stdout, "job-1  | working\n") || !strings.Contains(r.stdout, "svc-1  | serving\n") ||
		!strings.Contains(r.stdout, "job-1 exited with code 4") || !strings.HasPrefix(r.stdout, "Attaching to job-1, svc-1\n") {
		t.Errorf("up --exit-code-from job: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// --attach limits the logs shown; --timestamps; colours forced by
	// --ansi always, and dropped again by --no-color; a failure aborts
	r = compose("--ansi", "always", "up", "--abort-on-container-failure", "--attach", "job", "--timestamps")
	if r.code != 4 || !strings.HasPrefix(r.stdout, "Attaching to job-1\n") || strings.Contains(r.stdout, "serving") ||
		!strings.Contains(r.stdout, "\x1b[") || !regexp.MustCompile(`job-1  \| \x1b\[0m20[0-9-]+T[0-9:.]+Z working\n`).MatchString(r.stdout) {
		t.Errorf("up --abort-on-container-failure --attach job --timestamps: exit %d\n%q", r.code, r.stdout)
	}
	if r := compose("--ansi", "always", "up", "--abort-on-container-failure", "--no-color"); r.code != 4 || strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("up --no-color: exit %d\n%q", r.code, r.stdout)
	}
	if ps := compose("ps", "-q").stdout; ps != "" {
		t.Errorf("still running after the abort: %q", ps)
	}
	if r := compose("up", "--exit-code-from", "job", "--no-attach", "svc"); r.code != 4 || strings.Contains(r.stdout, "serving") || !strings.Contains(r.stdout, "job-1  | working") || !strings.HasPrefix(r.stdout, "Attaching to job-1\n") {
		t.Errorf("--no-attach svc: exit %d\n%s", r.code, r.stdout)
	}
	// SIGINT: graceful stop
	cmd := exec.Command(berthBin, "--root", root, "up", "svc")
	cmd.Dir = dir
	var out fixture.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && !strings.Contains(compose("ps", "--format", "{{.State}}", "svc").stdout, "running"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	// a container started later is followed too
	if r := compose("scale", "svc=2"); r.code != 0 {
		t.Errorf("scale: %s", r.stderr)
	}
	for i := 0; i < 100 && !strings.Contains(out.String(), "svc-2  | serving"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("up did not stop on SIGINT:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Gracefully stopping... (press Ctrl+C again to force)") || cmd.ProcessState.ExitCode() != 130 ||
		!strings.Contains(out.String(), "svc-2  | serving") {
		t.Errorf("SIGINT: exit %d\n%s", cmd.ProcessState.ExitCode(), out.String())
	}
	if ps := compose("ps", "-q").stdout; ps != "" {
		t.Errorf("running after SIGINT: %q", ps)
	}
}

// TestComposeTwoProjects: the same file under two project names makes two
// stacks that never mix: names, networks, DNS.
func TestComposeTwoProjects(t *testing.T) {
	_, _, compose := composeRoot(t, `services:
  app:
    image: bb:1
    command: ["sleep", "60"]
    init: true
`)
	t.Cleanup(func() { compose("-p", "one", "down", "-t", "0"); compose("-p", "two", "down", "-t", "0") })
	// two ups of one project at once take turns (the project's lock):
	// one container, both succeed
	results := make(chan result, 4)
	for _, p := range []string{"one", "one", "two", "two"} {
		go func() { results <- compose("-p", p, "up", "-d") }()
	}
	for range 4 {
		if r := <-results; r.code != 0 {
			t.Fatalf("concurrent up: %s", r.stderr)
		}
	}
	if ls := compose("ls", "--format", "{{.Name}} {{.Status}}").stdout; ls != "one running(1)\ntwo running(1)\n" {
		t.Errorf("ls: %q", ls)
	}
	nets := compose("network", "ls", "--format", "{{.Name}}").stdout
	if !strings.Contains(nets, "one_default\n") || !strings.Contains(nets, "two_default\n") {
		t.Errorf("networks: %q", nets)
	}
	ip1 := strings.TrimSpace(compose("container", "inspect", "-f", "{{.NetworkSettings.Networks.one_default.IPAddress}}", "one-app-1").stdout)
	out := compose("-p", "one", "exec", "-T", "app", "busybox", "nslookup", "-type=a", "app").stdout
	ip2 := strings.TrimSpace(compose("container", "inspect", "-f", "{{.NetworkSettings.Networks.two_default.IPAddress}}", "two-app-1").stdout)
	if !strings.Contains(out, ip1) || strings.Contains(out, "Address: "+ip2+"\n") {
		t.Errorf("app from project one resolves (want %s, not %s):\n%s", ip1, ip2, out)
	}
	compose("-p", "one", "down")
	if names := strings.Fields(compose("container", "ps", "-a", "--format", "{{.Names}}").stdout); !slices.Equal(names, []string{"two-app-1"}) {
		t.Errorf("after down of one: %v", names)
	}
}

// TestComposeAnonymousVolumes: a recreated container gets its
// predecessor's anonymous volume back; -V gives a fresh one.
func TestComposeAnonymousVolumes(t *testing.T) {
	dir, _, compose := composeRoot(t, `name: anon
services:
  app:
    image: bb:1
    command: ["sh", "-c", "test -f /cache/mark || echo first > /cache/mark; exec sleep 60"]
    init: true
    volumes: ["/cache"]
    environment: {V: "1"}
`)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: %s", r.stderr)
	}
	vol := strings.TrimSpace(compose("container", "inspect", "-f", "{{(index .Mounts 0).Name}}", "anon-app-1").stdout)
	compose("exec", "-T", "app", "sh", "-c", "echo kept > /cache/mark")
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(strings.Replace(strings.Replace(`name: anon
services:
  app:
    image: bb:1
    command: ["sh", "-c", "test -f /cache/mark || echo first > /cache/mark; exec sleep 60"]
    init: true
    volumes: ["/cache"]
    environment: {V: "1"}
`, `V: "1"`, `V: "2"`, 1), "\t", "", -1)), 0o644)
	if r := compose("up", "-d"); !strings.Contains(r.stderr, "Recreated") {
		t.Fatalf("up after change: %s", r.stderr)
	}
	if got := compose("exec", "-T", "app", "cat", "/cache/mark").stdout; got != "kept\n" {
		t.Errorf("after recreate: %q, want the predecessor's volume", got)
	}
	if now := strings.TrimSpace(compose("container", "inspect", "-f", "{{(index .Mounts 0).Name}}", "anon-app-1").stdout); now != vol {
		t.Errorf("volume %s, want %s", now, vol)
	}
	if r := compose("up", "-d", "--force-recreate", "-V"); r.code != 0 {
		t.Fatalf("up -V: %s", r.stderr)
	}
	if got := compose("exec", "-T", "app", "cat", "/cache/mark").stdout; got != "first\n" {
		t.Errorf("after -V: %q, want a fresh volume", got)
	}
}

// TestDemo runs the README's demo (scripts/webapp.sh) with the binary
// under test: the example stack comes up healthy, serves a page through
// its published port twice with the count kept in the kv service's
// volume, and goes down again.
func TestDemo(t *testing.T) {
	requireRoot(t)
	keepForwarding(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static not installed (scripts/deps.sh installs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command("bash", "../scripts/webapp.sh")
	cmd.Env = append(os.Environ(), "BIN="+berthBin, "WEB_PORT="+port)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"(visit 1, schema 1,", "(visit 2, schema 1,", "Up", "(healthy)", "migrate-1  | migrated the store to schema 1", "Network webapp_default  Removed", "Volume webapp_kvdata  Removed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// TestComposeVolumes: compose's long volume syntax and its relatives, on
// real mounts: a named volume, a read-only bind whose missing host path is
// made (relative to the project), a tmpfs of a bounded size, the tmpfs
// key, and volumes_from a service, read-only.
func TestComposeVolumes(t *testing.T) {
	dir, _, compose := composeRoot(t, `name: vols
services:
  writer:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    volumes:
      - type: volume
        source: data
        target: /data
      - type: bind
        source: ./host
        target: /host
        read_only: true
        bind: {create_host_path: true}
      - type: tmpfs
        target: /scratch
        tmpfs: {size: 1m}
    tmpfs: ["/run/x:size=64k"]
  reader:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    volumes_from: ["writer:ro"]
    depends_on: [writer]
volumes:
  data: {}
`)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: %s", r.stderr)
	}
	if fi, err := os.Stat(filepath.Join(dir, "host")); err != nil || !fi.IsDir() {
		t.Fatalf("create_host_path: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "host", "from-host"), []byte("seen\n"), 0o644)
	sh := func(service, script string) result {
		t.Helper()
		return compose("exec", "-T", service, "sh", "-c", script)
	}
	if r := sh("writer", "cat /host/from-host; echo x > /host/nope"); r.stdout != "seen\n" || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("read-only bind: %q %q", r.stdout, r.stderr)
	}
	if r := sh("writer", "busybox dd if=/dev/zero of=/scratch/big bs=1024 count=2048"); r.code == 0 {
		t.Errorf("a 2 MB write into a 1 MB tmpfs succeeded: %q", r.stderr)
	}
	if r := sh("writer", "grep ' /run/x tmpfs ' /proc/mounts"); r.code != 0 || !strings.Contains(r.stdout, "size=64k") {
		t.Errorf("tmpfs key: %q %q", r.stdout, r.stderr)
	}
	sh("writer", "echo shared > /data/note")
	if r := sh("reader", "cat /data/note; echo x > /data/other"); r.stdout != "shared\n" || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("volumes_from writer:ro: %q %q", r.stdout, r.stderr)
	}
	if r := compose("down", "-t", "0"); r.code != 0 {
		t.Fatalf("down: %s", r.stderr)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "host", "from-host")); err != nil || string(data) != "seen\n" {
		t.Errorf("the bind source after down: %q, %v", data, err)
	}
}

// TestComposeRun: a one-off container of a service starts its
// dependencies, returns its command's exit code, takes -e, -v and a new
// command, is named <project>-<service>-run-<id>, goes with --rm, and with
// down.
func TestComposeRun(t *testing.T) {
	dir, _, compose := composeRoot(t, `name: once
services:
  db:
    image: bb:1
    init: true
    command: ["sleep", "60"]
  job:
    image: bb:1
    command: ["echo", "default"]
    environment: {FROM: service}
    depends_on: [db]
`)
	os.MkdirAll(filepath.Join(dir, "in"), 0o755)
	os.WriteFile(filepath.Join(dir, "in", "f"), []byte("mounted\n"), 0o644)
	r := compose("run", "--rm", "-T", "-e", "EXTRA=1", "-v", "./in:/in", "job", "sh", "-c", "echo $FROM $EXTRA; cat /in/f; exit 3")
	if r.code != 3 || r.stdout != "service 1\nmounted\n" {
		t.Errorf("run --rm: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if ps := compose("ps", "--format", "{{.Service}} {{.State}}").stdout; ps != "db running\n" {
		t.Errorf("after run: %q, want the dependency running and no one-off left", ps)
	}
	r = compose("run", "-d", "--no-deps", "job", "sleep", "30")
	name := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(name, "once-job-run-") || len(name) != len("once-job-run-")+12 {
		t.Fatalf("run -d: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if got := compose("container", "inspect", "-f", `{{index .Config.Labels "com.docker.compose.oneoff"}}`, name).stdout; got != "True\n" {
		t.Errorf("oneoff label: %q", got)
	}
	// --env-from-file, under -e
	os.WriteFile(filepath.Join(dir, "run.env"), []byte("FROM_FILE=yes\nEXTRA=file\n"), 0o644)
	if r := compose("run", "--rm", "-T", "--no-deps", "--env-from-file", "run.env", "-e", "EXTRA=flag", "job", "sh", "-c", "echo $FROM_FILE $EXTRA"); r.stdout != "yes flag\n" {
		t.Errorf("run --env-from-file: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	// the process' options: name, entrypoint, user, working directory
	r = compose("run", "--rm", "-T", "--no-deps", "--name", "custom", "--entrypoint", "/bin/sh", "-u", "nobody", "-w", "/tmp", "job", "-c", "id -u; pwd; cat /etc/hostname")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "65534\n/tmp\n") {
		t.Errorf("run --name --entrypoint -u -w: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	// ports: none of the service's unless --service-ports, -p's always;
	// --use-aliases gives the one-off the service's name on its networks
	os.WriteFile(filepath.Join(dir, "ports.yaml"), []byte("name: once\nservices:\n  web:\n    image: bb:1\n    ports: [\"7000\"]\n"), 0o644)
	ports := func(args ...string) string {
		t.Helper()
		r := compose(append([]string{"-f", "ports.yaml", "run", "-d"}, append(args, "web", "sleep", "30")...)...)
		if r.code != 0 {
			t.Errorf("run -d %q: %s", args, r.stderr)
		}
		id := strings.TrimSpace(r.stdout)
		defer compose("container", "rm", "-f", id)
		return compose("container", "inspect", "-f", `{{range $p, $b := .NetworkSettings.Ports}}{{$p}} {{end}}{{range .NetworkSettings.Networks}}[{{range .Aliases}}{{.}}{{end}}]{{end}}`, id).stdout
	}
	if got := ports(); got != "[]\n" {
		t.Errorf("run without --service-ports: %q", got)
	}
	if got := ports("--service-ports", "--use-aliases"); got != "7000/tcp [web]\n" {
		t.Errorf("run --service-ports --use-aliases: %q", got)
	}
	if got := ports("-p", "7001"); got != "7001/tcp []\n" {
		t.Errorf("run -p 7001: %q", got)
	}
	if r := compose("run", "--rm", "-T", "nope"); r.code == 0 || !strings.Contains(r.stderr, "no such service: nope") {
		t.Errorf("run of an unknown service: exit %d, %q", r.code, r.stderr)
	}
	if r := compose("down", "-t", "0"); !strings.Contains(r.stderr, name+"  Removed") {
		t.Errorf("down did not remove the one-off container:\n%s", r.stderr)
	}
}

// TestComposeTools: the smaller compose commands on a running project:
// push and pull through a registry on loopback, images, top, cp both ways,
// stats, scale, and wait with the exit code.
func TestComposeTools(t *testing.T) {
	requireRoot(t)
	host := registrytest.Start(t, nil)
	ref := host + "/tools/bb:1"
	dir, root, compose := composeRoot(t, `name: tools
services:
  app:
    image: `+ref+`
    init: true
    command: ["sh", "-c", "echo inside > /tmp/made; exec sleep 60"]
  job:
    image: `+ref+`
    command: ["sh", "-c", "sleep 0.5; exit 7"]
`)
	if r := compose("image", "tag", "bb:1", ref); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := compose("push", "-q"); r.code != 0 {
		t.Fatalf("push: %s", r.stderr)
	}
	compose("image", "rm", ref)
	if r := compose("pull", "-q"); r.code != 0 {
		t.Fatalf("pull: %s", r.stderr)
	}
	// the registry's copy again: shown, or not with --quiet-pull
	r := compose("up", "-d", "--pull", "always")
	if r.code != 0 || !strings.Contains(r.stderr, "Digest: ") {
		t.Fatalf("up --pull always: exit %d\n%s", r.code, r.stderr)
	}
	if r := compose("up", "-d", "--pull", "always", "--quiet-pull"); r.code != 0 || strings.Contains(r.stderr, "Digest: ") {
		t.Errorf("up --pull always --quiet-pull: exit %d\n%s", r.code, r.stderr)
	}
	// refresh policies: the copy pulled a second ago is fresh for a day,
	// not for a second
	time.Sleep(1100 * time.Millisecond)
	for _, policy := range []string{"daily", "every_1s"} {
		pulls := policy == "every_1s"
		os.WriteFile(filepath.Join(dir, "refresh.yaml"), []byte("name: refresh\nservices:\n  x:\n    image: "+ref+"\n    pull_policy: "+policy+"\n    command: [\"true\"]\n"), 0o644)
		if r := compose("-f", "refresh.yaml", "up", "-d"); r.code != 0 || strings.Contains(r.stderr, "Digest: ") != pulls {
			t.Errorf("pull_policy %s: exit %d, pulled %v, want %v\n%s", policy, r.code, !pulls, pulls, r.stderr)
		}
	}
	if r := compose("-f", "refresh.yaml", "down"); r.code != 0 {
		t.Errorf("down refresh: %s", r.stderr)
	}
	if img := compose("images", "--format", "{{.ContainerName}} {{.Repository}} {{.Tag}}", "app").stdout; img != "tools-app-1 "+host+"/tools/bb 1\n" {
		t.Errorf("images: %q", img)
	}
	if top := compose("top", "app").stdout; !strings.HasPrefix(top, "SERVICE  #   UID") || !regexp.MustCompile(`\napp +1 +root .*sleep 60\n`).MatchString(top) {
		t.Errorf("top:\n%s", top)
	}
	for range 50 {
		if compose("exec", "-T", "app", "cat", "/tmp/made").stdout != "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := compose("cp", "app:/tmp/made", filepath.Join(dir, "out")); r.code != 0 {
		t.Errorf("cp out: %s", r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "out")); string(data) != "inside\n" {
		t.Errorf("copied out: %q", data)
	}
	os.WriteFile(filepath.Join(dir, "in"), []byte("outside\n"), 0o644)
	if r := compose("cp", filepath.Join(dir, "in"), "app:/tmp/in"); r.code != 0 {
		t.Errorf("cp in: %s", r.stderr)
	}
	if got := compose("exec", "-T", "app", "cat", "/tmp/in").stdout; got != "outside\n" {
		t.Errorf("copied in: %q", got)
	}
	// "-": a tar stream on stdout, and one read from stdin
	tarOut := compose("cp", "app:/tmp/made", "-")
	if names := tarNames(t, tarOut.stdout); tarOut.code != 0 || !slices.Equal(names, []string{"made"}) {
		t.Errorf("cp to -: exit %d, entries %q, %s", tarOut.code, names, tarOut.stderr)
	}
	if r := berth(t, dir, tarOut.stdout, "--root", root, "cp", "-", "app:/etc"); r.code != 0 {
		t.Errorf("cp from -: %s", r.stderr)
	}
	if got := compose("exec", "-T", "app", "cat", "/etc/made").stdout; got != "inside\n" {
		t.Errorf("extracted from -: %q", got)
	}
	if got := compose("exec", "-T", "-e", "X=1", "-u", "nobody", "-w", "/tmp", "app", "sh", "-c", "echo $X; id -u; pwd").stdout; got != "1\n65534\n/tmp\n" {
		t.Errorf("exec -e -u -w: %q", got)
	}
	if r := compose("exec", "-d", "app", "sh", "-c", "sleep 0.2; echo later > /tmp/later"); r.code != 0 || r.stdout != "" {
		t.Errorf("exec -d: exit %d, %q", r.code, r.stdout)
	}
	for i := 0; i < 100 && compose("exec", "-T", "app", "cat", "/tmp/later").stdout == ""; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if got := compose("exec", "-T", "app", "cat", "/tmp/later").stdout; got != "later\n" {
		t.Errorf("exec -d did not run on: %q", got)
	}
	plain := compose("exec", "-T", "app", "busybox", "grep", "CapEff", "/proc/self/status").stdout
	priv := compose("exec", "-T", "--privileged", "app", "busybox", "grep", "CapEff", "/proc/self/status").stdout
	if plain != "CapEff:\t00000000a80425fb\n" || priv == plain || !strings.HasPrefix(priv, "CapEff:\t000001f") {
		t.Errorf("exec capabilities: %q, --privileged %q", plain, priv)
	}
	if st := compose("stats", "--no-stream", "--format", "{{.Name}}", "app").stdout; st != "tools-app-1\n" {
		t.Errorf("stats: %q", st)
	}
	// NET I/O counts the container's interfaces: a ping of its gateway
	compose("exec", "-T", "app", "sh", "-c", "busybox ping -c 1 -W 2 $(busybox ip route | busybox awk '/default/ {print $3}')")
	if st := compose("stats", "--no-stream", "--format", "{{.NetIO}}", "app").stdout; st == "0B / 0B\n" || !strings.Contains(st, "B / ") {
		t.Errorf("stats NET I/O after a ping: %q", st)
	}
	if r := compose("scale", "app=2"); r.code != 0 || !strings.Contains(r.stderr, "tools-app-2  Started") {
		t.Errorf("scale: exit %d\n%s", r.code, r.stderr)
	}
	if r := compose("wait", "job"); r.code != 7 || r.stdout != "7\n" {
		t.Errorf("wait job: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := compose("down", "-t", "0", "--rmi", "all"); r.code != 0 || !strings.Contains(r.stderr, "Image "+ref+"  Removed") {
		t.Errorf("down --rmi all: exit %d\n%s", r.code, r.stderr)
	}
	if imgs := compose("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout; strings.Contains(imgs, ref) || !strings.Contains(imgs, "bb:1") {
		t.Errorf("images after down --rmi all: %q", imgs)
	}
}

// TestComposeSecretsAndHooks: secrets and configs from a file, the
// environment and inline content, with their uid, gid and mode, mounted
// read-only where compose puts them; a post_start hook runs after the
// start, a pre_stop hook before the stop.
func TestComposeSecretsAndHooks(t *testing.T) {
	dir, _, compose := composeRoot(t, `name: sec
secrets:
  token: {file: ./token.txt}
  api_key: {environment: API_KEY}
configs:
  app_conf: {content: "debug=true\n"}
services:
  app:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    volumes: ["./shared:/shared"]
    secrets:
      - token
      - source: api_key
        target: key
        uid: "1000"
        gid: "1001"
        mode: 0400
    configs:
      - source: app_conf
        target: /etc/app.conf
    post_start:
      - command: ["sh", "-c", "echo started > /tmp/hook"]
    pre_stop:
      - command: ["sh", "-c", "echo stopping > /shared/bye"]
`)
	os.WriteFile(filepath.Join(dir, "token.txt"), []byte("tok-123\n"), 0o600)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("API_KEY=s3cret\n"), 0o600)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: %s", r.stderr)
	}
	r := compose("exec", "-T", "app", "sh", "-c", "cat /run/secrets/token /run/secrets/key /etc/app.conf /tmp/hook; busybox stat -c '%u %g %a' /run/secrets/key; echo x > /run/secrets/token")
	if r.stdout != "tok-123\ns3cretdebug=true\nstarted\n1000 1001 400\n" || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("secrets, configs and post_start: %q %q", r.stdout, r.stderr)
	}
	// restart runs both hooks again (the container's /tmp is kept)
	compose("exec", "-T", "app", "rm", "/tmp/hook")
	os.Remove(filepath.Join(dir, "shared", "bye"))
	if r := compose("restart", "-t", "5"); r.code != 0 {
		t.Fatalf("restart: %s", r.stderr)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "shared", "bye")); err != nil || string(data) != "stopping\n" {
		t.Errorf("pre_stop on restart: %q, %v", data, err)
	}
	if got := compose("exec", "-T", "app", "cat", "/tmp/hook").stdout; got != "started\n" {
		t.Errorf("post_start on restart: %q", got)
	}
	os.Remove(filepath.Join(dir, "shared", "bye"))
	if r := compose("stop", "-t", "5"); r.code != 0 {
		t.Fatalf("stop: %s", r.stderr)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "shared", "bye")); err != nil || string(data) != "stopping\n" {
		t.Errorf("pre_stop: %q, %v", data, err)
	}
}

// TestComposeEvents: events --json reports a service container's create,
// start, health and die as they happen.
func TestComposeEvents(t *testing.T) {
	dir, root, compose := composeRoot(t, `name: ev
services:
  app:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    healthcheck: {test: ["CMD", "true"], interval: 100ms}
`)
	cmd := exec.Command(berthBin, "--root", root, "events", "--json")
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	time.Sleep(300 * time.Millisecond) // the watch is set up
	compose("up", "-d", "--wait")
	compose("stop", "-t", "1")
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev struct{ Action, Service string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		if ev.Service == "app" {
			actions = append(actions, ev.Action)
		}
	}
	if !slices.Equal(actions, []string{"create", "start", "health_status: starting", "health_status: healthy", "kill", "die", "stop"}) &&
		!slices.Equal(actions, []string{"create", "start", "health_status: healthy", "kill", "die", "stop"}) {
		t.Errorf("events: %q", actions)
	}
}

// TestComposeRestartDeps: with depends_on restart: true, recreating or
// restarting the dependency restarts the dependent (but for restart
// --no-deps); without it, the dependent is kept.
func TestComposeRestartDeps(t *testing.T) {
	file := `name: rd
services:
  db:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    environment: {V: "%s"}
  app:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    depends_on:
      db: {condition: service_started, restart: true}
  other:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    depends_on: [db]
`
	dir, _, compose := composeRoot(t, fmt.Sprintf(file, "1"))
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: %s", r.stderr)
	}
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(fmt.Sprintf(file, "2")), 0o644)
	r := compose("up", "-d")
	if !strings.Contains(r.stderr, "Container rd-db-1  Recreated") || !strings.Contains(r.stderr, "Container rd-app-1  Restarting") ||
		!strings.Contains(r.stderr, "Container rd-other-1  Running") {
		t.Errorf("up after db changed:\n%s", r.stderr)
	}
	// restart: of db, also of app (restart: true), not of other; with
	// --no-deps, of db alone
	r = compose("restart", "db")
	if r.code != 0 || !strings.Contains(r.stderr, "Container rd-db-1  Restarting") || !strings.Contains(r.stderr, "Container rd-app-1  Restarting") ||
		strings.Contains(r.stderr, "rd-other-1") {
		t.Errorf("restart db: exit %d\n%s", r.code, r.stderr)
	}
	r = compose("restart", "--no-deps", "db")
	if r.code != 0 || !strings.Contains(r.stderr, "Container rd-db-1  Restarting") || strings.Contains(r.stderr, "rd-app-1") {
		t.Errorf("restart --no-deps db: exit %d\n%s", r.code, r.stderr)
	}
	if ps := compose("ps", "--format", "{{.Service}} {{.State}}").stdout; ps != "app running\ndb running\nother running\n" {
		t.Errorf("after the restarts: %q", ps)
	}
}

// TestComposeCorpus plans, with --dry-run, an up of each of docker
// compose's own end-to-end fixtures (../shared/compose-corpus): every
// service converted to a container as the real up would, nothing made, no
// image fetched. Each either plans a container per service or fails with
// one clear line.
func TestComposeCorpus(t *testing.T) {
	requireRoot(t)
	base := "../../shared/compose-corpus/compose-e2e-fixtures"
	if _, err := os.Stat(base); err != nil {
		t.Skip("../shared/compose-corpus is not beside the project")
	}
	dirs, _ := os.ReadDir(base)
	planned := 0
	for _, d := range dirs {
		file := filepath.Join(base, d.Name(), "compose.yaml")
		if _, err := os.Stat(file); err != nil {
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			abs, _ := filepath.Abs(file)
			root := t.TempDir()
			r := berth(t, t.TempDir(), "", "--root", root, "-f", abs, "--dry-run", "up", "-d")
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			var errs []string
			for _, l := range lines {
				if strings.HasPrefix(l, "berth: ") {
					errs = append(errs, l)
				}
			}
			switch {
			case r.code == 0 && len(errs) == 0:
				if !strings.Contains(r.stderr, "create (dry run): missing") {
					t.Errorf("planned nothing:\n%s", r.stderr)
				}
				planned++
			case r.code != 0 && len(errs) == 1:
				t.Logf("refused: %s", errs[0])
			default:
				t.Errorf("exit %d, %d error lines:\n%s", r.code, len(errs), r.stderr)
			}
			if nets := berth(t, t.TempDir(), "", "--root", root, "network", "ls", "-q").stdout; nets != "" {
				t.Errorf("a dry run made networks: %q", nets)
			}
		})
	}
	if planned < 10 {
		t.Errorf("only %d fixtures planned", planned)
	}
}

// TestComposeExternal: an external network and volume must exist, are
// used as they are, and are left by down -v.
func TestComposeExternal(t *testing.T) {
	_, _, compose := composeRoot(t, `name: ext
services:
  app:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    networks: [shared]
    volumes: [keep:/keep]
networks:
  shared: {external: true, name: extnet}
volumes:
  keep: {external: true, name: extvol}
`)
	if r := compose("up", "-d"); r.code == 0 || !strings.Contains(r.stderr, "network extnet declared as external, but could not be found") {
		t.Errorf("a missing external network: exit %d, %q", r.code, r.stderr)
	}
	compose("network", "create", "extnet")
	if r := compose("up", "-d"); r.code == 0 || !strings.Contains(r.stderr, `external volume "extvol" not found`) {
		t.Errorf("a missing external volume: exit %d, %q", r.code, r.stderr)
	}
	compose("volume", "create", "extvol")
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: %s", r.stderr)
	}
	if got := compose("container", "inspect", "-f", "{{.NetworkSettings.Networks.extnet.IPAddress}}", "ext-app-1").stdout; strings.TrimSpace(got) == "" {
		t.Error("not on the external network")
	}
	compose("down", "-v", "-t", "0")
	if nets := compose("network", "ls", "--format", "{{.Name}}").stdout; !strings.Contains(nets, "extnet\n") {
		t.Errorf("down removed the external network: %q", nets)
	}
	if vols := compose("volume", "ls", "-q").stdout; vols != "extvol\n" {
		t.Errorf("down -v removed the external volume: %q", vols)
	}
	compose("network", "rm", "extnet")
	compose("volume", "rm", "extvol")
}

// TestImageHealthcheck: an image's HEALTHCHECK (here set by commit
// --change) is a service's healthcheck when the service sets none, and
// service_healthy waits for it.
func TestImageHealthcheck(t *testing.T) {
	_, _, compose := composeRoot(t, `name: ih
services:
  db:
    image: bbh:1
    init: true
    command: ["sleep", "60"]
  web:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    depends_on:
      db: {condition: service_healthy}
  off:
    image: bbh:1
    init: true
    command: ["sleep", "60"]
    healthcheck: {test: ["NONE"]}
`)
	id := strings.TrimSpace(compose("container", "create", "bb:1", "true").stdout)
	if r := compose("container", "commit", "-c", "HEALTHCHECK --interval=100ms --retries=2 CMD true", id, "bbh:1"); r.code != 0 {
		t.Fatalf("commit: %s", r.stderr)
	}
	compose("container", "rm", id)
	if r := compose("up", "-d"); r.code != 0 || !strings.Contains(r.stderr, "ih-db-1  Healthy") {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	if ps := compose("ps", "--format", "{{.Service}} {{.Health}}", "db", "off").stdout; ps != "db healthy\noff \n" {
		t.Errorf("ps: %q (test: [NONE] turns the image's healthcheck off)", ps)
	}
}

// tarNames lists the entries of a tar stream.
func tarNames(t *testing.T, stream string) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(strings.NewReader(stream))
	for {
		h, err := tr.Next()
		if err != nil {
			if err != io.EOF {
				t.Errorf("reading the tar stream: %v", err)
			}
			return names
		}
		names = append(names, h.Name)
	}
}

// TestComposePullOnce: an up pulls each service's image once, as compose
// does, whatever its scale: with pull_policy: always and scale: 3 the
// registry sees the requests of one pull, not four.
func TestComposePullOnce(t *testing.T) {
	requireRoot(t)
	backend := registrytest.Start(t, nil)
	// a proxy on loopback in front of the registry counts the manifest
	// requests, one pull's worth per pull
	var mu sync.Mutex
	manifests := 0
	target, _ := url.Parse("http://" + backend)
	proxy := httputil.NewSingleHostReverseProxy(target)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			mu.Lock()
			manifests++
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := manifests
		manifests = 0
		return n
	}
	ref := l.Addr().String() + "/once/bb:1"
	_, _, compose := composeRoot(t, `name: once
services:
  app:
    image: `+ref+`
    pull_policy: always
    scale: 3
    init: true
    command: ["sleep", "60"]
`)
	if r := compose("image", "tag", "bb:1", ref); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := compose("push", "-q"); r.code != 0 {
		t.Fatalf("push: %s", r.stderr)
	}
	count()
	if r := compose("pull", "-q"); r.code != 0 {
		t.Fatalf("pull: %s", r.stderr)
	}
	onePull := count()
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	if n := count(); onePull == 0 || n != onePull {
		t.Errorf("up -d of 3 replicas made %d manifest requests; one pull makes %d", n, onePull)
	}
	if ps := compose("ps", "-q").stdout; strings.Count(ps, "\n") != 3 {
		t.Errorf("ps -q: %q", ps)
	}
}
