package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestResourceLimitsRefused: a limit out of range is refused alike from
// compose's keys and from `container run`'s flags, with Docker daemon's
// words, and nothing of the project is made; before, `cpus: -1` ran the
// service with no limit at all.
func TestResourceLimitsRefused(t *testing.T) {
	_, _, compose := composeRoot(t, `name: limits
services:
  web:
    image: bb:1
    command: ["sleep", "60"]
    cpus: -1
`)
	const cpusRange = "range of CPUs is from 0.01 to"
	r := compose("up", "-d")
	if r.code != 1 || !strings.Contains(r.stderr, `service "web": `+cpusRange) {
		t.Errorf("up with cpus: -1: exit %d, %q", r.code, r.stderr)
	}
	if ps := compose("ps", "-a", "-q").stdout; ps != "" {
		t.Errorf("a refused up made containers: %q", ps)
	}
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--cpus", "-1"}, cpusRange},
		{[]string{"--cpu-shares", "-1"}, "invalid value -1 for CPU shares"},
		{[]string{"--cpu-period", "5"}, "CPU cfs period can not be less than 1ms"},
		{[]string{"-m", "1k"}, "minimum memory limit allowed is 6MB"},
		{[]string{"--memory-swappiness", "101"}, "valid memory swappiness range is 0-100"},
		{[]string{"--oom-score-adj", "2000"}, "range for oom score adj is [-1000, 1000]"},
	} {
		r := compose(append(append([]string{"container", "run", "--rm"}, c.flags...), "bb:1", "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "strconv") {
			t.Errorf("run %v: exit %d, %q; want 125 and %q", c.flags, r.code, r.stderr, c.want)
		}
	}
}

// TestUpFailureNotInterrupt: one service that fails stops its siblings,
// and up exits 1 with that failure, as docker compose does; before, the
// sibling's cancelled wait made it exit 130, as if interrupted.
func TestUpFailureNotInterrupt(t *testing.T) {
	_, _, compose := composeRoot(t, `name: sibling
services:
  gate:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    healthcheck: {test: ["CMD", "true"], interval: 100ms}
  bad:
    image: bb:1
    command: ["/nonexistent"]
    depends_on: {gate: {condition: service_healthy}}
  slow:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    healthcheck: {test: ["CMD", "false"], interval: 1h, start_period: 1h}
  waiter:
    image: bb:1
    command: ["sleep", "60"]
    depends_on: {slow: {condition: service_healthy}}
`)
	r := compose("up", "-d")
	if r.code != 1 || !strings.Contains(r.stderr, "/nonexistent") || strings.Contains(r.stderr, "context canceled") {
		t.Errorf("up with a failing service: exit %d, %q; want 1 and bad's error alone", r.code, r.stderr)
	}
}

// TestUnknownCommandsAndServices: a mistyped command or service is an
// error (exit 1), as in docker compose, never help and exit 0 or a
// command that does nothing or something else: before, `upp` printed the
// help and exited 0, `restart wbe` did nothing and exited 0, and `up -d
// wbe` tried to pull an image "<project>-". The word compose is dropped
// wherever the command goes, after global flags too.
func TestUnknownCommandsAndServices(t *testing.T) {
	root := t.TempDir()
	dir := project(t, map[string]string{"compose.yaml": `name: typo
services:
  web:
    image: bb:1
  dbg:
    image: bb:1
    profiles: [debug]
`})
	run := func(args ...string) result {
		t.Helper()
		return berth(t, dir, "", append([]string{"--root", root}, args...)...)
	}
	for _, c := range []struct{ args, want string }{
		{"upp", `unknown berth command: "upp"`},
		{"compose upp", `unknown berth command: "upp"`},
		{"container lss", `unknown berth command: "container lss"`},
	} {
		if r := run(strings.Fields(c.args)...); r.code != 1 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%s: exit %d, %q; want 1, the help and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if r := run("compose", "ps"); r.code != 0 || !strings.HasPrefix(r.stdout, "NAME") {
		t.Errorf("--root R compose ps: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	for _, args := range []string{"up -d wbe", "create wbe", "start wbe", "stop wbe", "restart wbe", "kill wbe", "pause wbe",
		"unpause wbe", "rm -f wbe", "down wbe", "ps wbe", "logs wbe", "top wbe", "images wbe", "events wbe", "stats --no-stream wbe",
		"wait wbe", "pull wbe", "push wbe", "exec wbe true", "port wbe 80", "attach wbe", "cp wbe:/x /tmp", "run --rm wbe true",
		"watch wbe", "scale wbe=2", "config wbe", "up --exit-code-from wbe"} {
		if r := run(strings.Fields(args)...); r.code != 1 || !strings.Contains(r.stderr, "no such service: wbe") {
			t.Errorf("%s: exit %d, %q; want 1 and no such service: wbe", args, r.code, r.stderr)
		}
	}
	// a service of a profile not enabled is no typo
	if r := run("stop", "dbg"); r.code != 0 {
		t.Errorf("stop dbg: exit %d, %q", r.code, r.stderr)
	}
}

// TestExecExitCodes: a command exec cannot run exits 126 (a directory, a
// working directory or user that does not exist, no permission) and one
// that is not there 127, as Docker's exec; exec into a paused service is
// docker compose's exit 1 with Docker's message; pausing a paused service
// or unpausing a running one is an error. Before, berth gave 125 or 127
// for the first, 125 for a paused service, and 0 for the last two.
func TestExecExitCodes(t *testing.T) {
	_, _, compose := composeRoot(t, `name: execcodes
services:
  web:
    image: bb:1
    init: true
    command: ["sleep", "60"]
`)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	for _, c := range []struct {
		flags, cmd []string
		code       int
	}{
		{nil, []string{"/tmp"}, 126},
		{[]string{"-w", "/nonexistent"}, []string{"true"}, 126},
		{[]string{"-u", "nosuchuser"}, []string{"true"}, 126},
		{nil, []string{"/etc/notexec"}, 126},
		{nil, []string{"nosuchcommand"}, 127},
		{nil, []string{"/nosuch/command"}, 127},
		{nil, []string{"sh", "-c", "exit 3"}, 3},
	} {
		// compose's exec, then Docker's own on the container
		for _, args := range [][]string{
			append(append(append([]string{"exec", "-T"}, c.flags...), "web"), c.cmd...),
			append(append(append([]string{"container", "exec"}, c.flags...), "execcodes-web-1"), c.cmd...),
		} {
			if r := compose(args...); r.code != c.code {
				t.Errorf("%v: exit %d, want %d\n%s", args, r.code, c.code, r.stderr)
			}
		}
	}
	if r := compose("unpause", "web"); r.code != 1 || !strings.Contains(r.stderr, "is not paused") {
		t.Errorf("unpause of a running service: exit %d, %q", r.code, r.stderr)
	}
	if r := compose("pause", "web"); r.code != 0 {
		t.Fatalf("pause: exit %d, %q", r.code, r.stderr)
	}
	if r := compose("exec", "-T", "web", "true"); r.code != 1 || !strings.Contains(r.stderr, "is paused, unpause the container before exec") {
		t.Errorf("exec into a paused service: exit %d, %q", r.code, r.stderr)
	}
	if r := compose("pause", "web"); r.code != 1 || !strings.Contains(r.stderr, "is already paused") {
		t.Errorf("pause of a paused service: exit %d, %q", r.code, r.stderr)
	}
	if r := compose("unpause", "web"); r.code != 0 {
		t.Errorf("unpause: exit %d, %q", r.code, r.stderr)
	}
}

// TestNeedsRoot: a user who is not root is told that berth needs root,
// before anything is tried; before, a pull or create failed half-way
// with "lchown ...: operation not permitted". help, version and config
// work for anyone.
func TestNeedsRoot(t *testing.T) {
	requireRoot(t) // to become nobody
	dir, err := os.MkdirTemp("", "berth-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	bin := filepath.Join(dir, "berth")
	data, err := os.ReadFile(berthBin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, data, 0o755)
	// nothing here may reach a registry: the image is never pulled
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("name: nr\nservices:\n  web: {image: bb:1, pull_policy: never}\n"), 0o644)
	rootfs := filepath.Join(dir, "rootfs")
	os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "etc", "hostname"), []byte("x\n"), 0o644)
	nobody := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--root", filepath.Join(dir, "root")}, args...)...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("running berth as nobody: %v", err)
		}
		return result{out.String(), errb.String(), code}
	}
	for _, args := range [][]string{{"image", "import", rootfs, "bb:1"}, {"up", "-d"}, {"ps"}, {"volume", "create", "vol"}, {"network", "create", "net"}} {
		r := nobody(args...)
		if r.code != 1 || !strings.Contains(r.stderr, "needs root: run it as root") || strings.Contains(r.stderr, "lchown") {
			t.Errorf("%v as nobody: exit %d, %q; want 1 and that berth needs root", args, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "root")); err == nil {
		t.Errorf("a refused command made the state root")
	}
	for _, args := range [][]string{{"version"}, {"config", "-q"}, {"--help"}} {
		if r := nobody(args...); r.code != 0 {
			t.Errorf("%v as nobody: exit %d, %q", args, r.code, r.stderr)
		}
	}
}

// TestStartErrorHint: a directory mounted on a file fails deep in the
// runtime with "not a directory"; the message says what to check, as
// Docker's does.
func TestStartErrorHint(t *testing.T) {
	_, run := busyboxRoot(t)
	r := run("container", "run", "--rm", "-v", "hintvol:/etc/passwd", "bb:1", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "not a directory: Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type") {
		t.Errorf("a volume on a file: exit %d, %q", r.code, r.stderr)
	}
	// a working directory that is a file is no mount: no hint, as in Docker
	r = run("container", "run", "--rm", "--workdir", "/etc/passwd", "bb:1", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "not a directory") || strings.Contains(r.stderr, "Are you trying to mount") {
		t.Errorf("a working directory that is a file: exit %d, %q", r.code, r.stderr)
	}
}
