package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/fixture"
)

// lifecycle is a project with a long-running service that reacts to
// SIGHUP and keeps an anonymous volume, and a one-shot that fails (after
// long enough for attach to come in after start, on a machine as slow as
// scripts/vm-test.sh's emulated guest too).
const lifecycle = `name: life
services:
  app:
    image: bb:1
    init: true
    command: ["sh", "-c", "trap 'echo got HUP' HUP; echo started; while true; do sleep 0.1; done"]
    volumes: [/anon]
    ports: ["7070"]
  job:
    image: bb:1
    command: ["sh", "-c", "echo job says hi; sleep 3; exit 5"]
`

// TestComposeLifecycle drives the commands that move containers between
// states, each as docker compose's: create, start --wait, kill -s, pause,
// unpause, restart, stop, wait, attach, and rm with its prompt, -f, -s
// and -v.
func TestComposeLifecycle(t *testing.T) {
	_, _, compose := composeRoot(t, lifecycle)
	states := func() string {
		return compose("ps", "-a", "--format", "{{.Name}} {{.State}}").stdout
	}
	if r := compose("create"); r.code != 0 || states() != "life-app-1 created\nlife-job-1 created\n" {
		t.Fatalf("create: exit %d, %q\n%s", r.code, states(), r.stderr)
	}
	if r := compose("start", "--wait", "app"); r.code != 0 || !strings.Contains(r.stderr, "life-app-1  Healthy") {
		t.Errorf("start --wait: exit %d\n%s", r.code, r.stderr)
	}
	if r := compose("kill", "-s", "HUP", "app"); r.code != 0 || !strings.Contains(r.stderr, "life-app-1  Killed") {
		t.Errorf("kill -s HUP: exit %d\n%s", r.code, r.stderr)
	}
	for i := 0; i < 50 && !strings.Contains(compose("logs", "app").stdout, "got HUP"); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if logs := compose("logs", "app").stdout; !strings.Contains(logs, "app-1  | got HUP") {
		t.Errorf("the signal did not reach the service: %q", logs)
	}
	if r := compose("pause"); r.code != 0 || !strings.Contains(states(), "life-app-1 paused") {
		t.Errorf("pause: exit %d, %q\n%s", r.code, states(), r.stderr)
	}
	if r := compose("unpause"); r.code != 0 || !strings.Contains(states(), "life-app-1 running") {
		t.Errorf("unpause: exit %d, %q\n%s", r.code, states(), r.stderr)
	}
	// restart leaves one-off containers be
	oneoff := strings.TrimSpace(compose("run", "-d", "app", "sleep", "60").stdout)
	if r := compose("restart", "-t", "1", "app"); r.code != 0 || !strings.Contains(states(), "life-app-1 running") || strings.Contains(r.stderr, oneoff) {
		t.Errorf("restart: exit %d, %q\n%s", r.code, states(), r.stderr)
	}
	if st := compose("container", "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", oneoff).stdout; st != "running 0\n" {
		t.Errorf("the one-off after restart: %q", st)
	}
	compose("container", "rm", "-f", "-v", oneoff)
	for i := 0; i < 50 && strings.Count(compose("logs", "app").stdout, "started") < 2; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if logs := compose("logs", "--no-log-prefix", "app").stdout; strings.Count(logs, "started\n") != 2 {
		t.Errorf("logs across a restart: %q", logs)
	}

	// wait prints the exit code and exits with it; attach follows the
	// output until the exit
	compose("start", "job")
	attach := compose("attach", "job")
	if r := compose("wait", "job"); r.code != 5 || r.stdout != "5\n" {
		t.Errorf("wait: exit %d, %q", r.code, r.stdout)
	}
	if attach.code != 5 {
		t.Errorf("attach: exit %d, %q, %s", attach.code, attach.stdout, attach.stderr)
	}

	// rm asks first (no answer on stdin: nothing removed), -f says what
	// it removes; running containers are left unless -s
	if r := compose("rm"); r.code != 0 || !strings.Contains(r.stdout, "Going to remove life-job-1") || states() != "life-app-1 running\nlife-job-1 exited\n" {
		t.Errorf("rm without an answer: exit %d, %q, left %q", r.code, r.stdout, states())
	}
	if r := compose("rm", "-f"); r.code != 0 || r.stdout != "Going to remove life-job-1\n" || states() != "life-app-1 running\n" {
		t.Errorf("rm -f: exit %d, %q, left %q", r.code, r.stdout, states())
	}
	if r := compose("rm", "-f"); r.code != 0 || !strings.Contains(r.stderr, "No stopped containers") {
		t.Errorf("rm -f with nothing stopped: exit %d, %q", r.code, r.stderr)
	}
	if vols := compose("volume", "ls", "-q").stdout; strings.Count(vols, "\n") != 1 {
		t.Fatalf("app's anonymous volume: %q", vols)
	}
	if r := compose("rm", "-f", "-s", "-v", "app"); r.code != 0 || states() != "" {
		t.Errorf("rm -f -s -v: exit %d, left %q\n%s", r.code, states(), r.stderr)
	}
	if vols := compose("volume", "ls", "-q").stdout; vols != "" {
		t.Errorf("rm -v left the anonymous volume: %q", vols)
	}
}

// TestComposeLogsAndPs: logs' selection flags and ps' filters and
// formats, over docker compose's field names.
func TestComposeLogsAndPs(t *testing.T) {
	dir, root, compose := composeRoot(t, lifecycle)
	if r := compose("up", "-d", "--scale", "app=2"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	compose("wait", "job")

	// ps: running only by default, -a for all, by status, quiet, json
	if ps := compose("ps", "--format", "{{.Name}} {{.Service}} {{.Networks}} {{.LocalVolumes}}").stdout; ps != "life-app-1 app life_default 1\nlife-app-2 app life_default 1\n" {
		t.Errorf("ps: %q", ps)
	}
	if ps := compose("ps", "--status", "exited", "--format", "{{.Name}} {{.ExitCode}}").stdout; ps != "life-job-1 5\n" {
		t.Errorf("ps --status exited: %q", ps)
	}
	if ps := compose("ps", "--filter", "status=running", "-q").stdout; len(strings.Fields(ps)) != 2 || len(strings.Fields(ps)[0]) != 64 {
		t.Errorf("ps --filter status=running -q: %q", ps)
	}
	var row struct {
		Name, State, Mounts string
		ExitCode            int
		Publishers          []struct {
			TargetPort, PublishedPort int
			Protocol                  string
		}
	}
	js := compose("ps", "--format", "json", "app").stdout
	if err := json.Unmarshal([]byte(strings.Split(js, "\n")[0]), &row); err != nil || row.Name != "life-app-1" || row.State != "running" || row.Mounts == "" ||
		len(row.Publishers) != 1 || row.Publishers[0].TargetPort != 7070 || row.Publishers[0].PublishedPort == 0 {
		t.Errorf("ps --format json: %v, %+v\n%s", err, row, js)
	}
	// Docker's {{.Label "KEY"}} and {{.Labels}}, in ps and network ls
	if ps := compose("ps", "--format", `{{.Label "com.docker.compose.service"}}`, "app").stdout; ps != "app\napp\n" {
		t.Errorf("ps .Label: %q", ps)
	}
	if nets := compose("network", "ls", "--format", `{{.Label "com.docker.compose.network"}} {{.Labels}}`).stdout; !strings.HasPrefix(nets, "default com.docker.compose.network=default,com.docker.compose.project=life,") {
		t.Errorf("network ls .Label and .Labels: %q", nets)
	}
	if r := compose("ps", "--filter", "name=x"); r.code != 125 {
		t.Errorf("an unsupported filter: exit %d", r.code)
	}

	// logs: prefixes, --no-log-prefix, --tail, -t, --index, --since
	if logs := compose("logs", "job").stdout; logs != "job-1  | job says hi\n" {
		t.Errorf("logs job: %q", logs)
	}
	if logs := compose("logs", "--no-log-prefix", "--index", "2", "app").stdout; logs != "started\n" {
		t.Errorf("logs --index 2 --no-log-prefix: %q", logs)
	}
	// --index picks the replica for exec and port too
	if host := compose("exec", "-T", "--index", "2", "app", "busybox", "hostname").stdout; host != compose("container", "inspect", "-f", "{{.Config.Hostname}}", "life-app-2").stdout {
		t.Errorf("exec --index 2 ran in %q", host)
	}
	p1, p2 := compose("port", "app", "7070").stdout, compose("port", "--index", "2", "app", "7070").stdout
	if p1 == "" || p2 == "" || p1 == p2 {
		t.Errorf("port --index: replica 1 %q, replica 2 %q", p1, p2)
	}
	if logs := compose("logs", "-t", "--tail", "1", "job").stdout; !strings.HasPrefix(logs, "job-1  | 20") || !strings.HasSuffix(logs, "Z job says hi\n") {
		t.Errorf("logs -t --tail 1: %q", logs)
	}
	if logs := compose("logs", "--tail", "0", "job").stdout; logs != "" {
		t.Errorf("logs --tail 0: %q", logs)
	}
	if logs := compose("logs", "--since", "1h", "--until", "1h", "job").stdout; logs != "" {
		t.Errorf("logs --until 1h ago: %q", logs)
	}
	if logs := compose("logs", "--since", "1h", "job").stdout; logs != "job-1  | job says hi\n" {
		t.Errorf("logs --since 1h: %q", logs)
	}
	// -f follows a running container and ends at its exit
	compose("start", "job")
	if logs := compose("logs", "-f", "job"); logs.code != 0 || logs.stdout != "job-1  | job says hi\njob-1  | job says hi\n" {
		t.Errorf("logs -f: exit %d, %q", logs.code, logs.stdout)
	}
	// ... and a container that starts meanwhile, until all have ended
	follow := startBerth(t, dir, root, "logs", "-f", "--no-log-prefix", "app")
	out, done := follow.out, follow.done
	time.Sleep(200 * time.Millisecond) // its watch begins
	if r := compose("scale", "app=3"); r.code != 0 {
		t.Errorf("scale: %s", r.stderr)
	}
	for i := 0; i < 100 && strings.Count(out.String(), "started") < 3; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	compose("stop", "-t", "1", "app")
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("logs -f went on after every container had stopped:\n%s", out.String())
	}
	if n := strings.Count(out.String(), "started\n"); n != 3 {
		t.Errorf("logs -f saw %d starts, want 3 (two at first, one scaled up):\n%s", n, out.String())
	}
}

// upOptions has resource limits, a restart policy and every healthcheck
// option on a; b waits for a to be healthy and optionally for extra, which
// only the profile "more" enables.
const upOptions = `name: opts
services:
  a:
    image: bb:1
    init: true
    command: ["sh", "-c", "echo $$V; exec sleep 60"]
    environment: {V: one}
    deploy:
      resources:
        limits: {memory: 64M, cpus: "0.5", pids: 50}
        reservations: {memory: 32M}
      restart_policy: {condition: on-failure, max_attempts: 3}
    healthcheck:
      test: ["CMD-SHELL", "true"]
      interval: 1s
      timeout: 2s
      retries: 4
      start_period: 5s
      start_interval: 100ms
  b:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    healthcheck: {disable: true}
    depends_on:
      a: {condition: service_healthy}
      extra: {condition: service_started, required: false}
  extra:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    profiles: [more]
`

// TestComposeUpOptions: up's creation and recreation flags, profiles, an
// optional dependency, deploy settings and healthcheck options as inspect
// shows them, --pull's values, ls, and down --rmi local.
func TestComposeUpOptions(t *testing.T) {
	dir, _, compose := composeRoot(t, upOptions)
	states := func() string {
		return compose("ps", "-a", "--format", "{{.Service}} {{.State}}").stdout
	}
	if r := compose("up", "-d", "--no-start"); r.code != 0 || states() != "a created\nb created\n" {
		t.Fatalf("up --no-start: exit %d, %q\n%s", r.code, states(), r.stderr)
	}
	if r := compose("up", "-d", "--wait"); r.code != 0 || states() != "a running\nb running\n" {
		t.Fatalf("up --wait: exit %d, %q\n%s", r.code, states(), r.stderr)
	}
	inspect := func(name, tmpl string) string {
		return strings.TrimSpace(compose("container", "inspect", "-f", tmpl, name).stdout)
	}
	if got := inspect("opts-a-1", "{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"); got != "67108864 33554432 500000000 50 on-failure:3" {
		t.Errorf("deploy settings: %q", got)
	}
	var hc struct {
		Test                                          []string
		Interval, Timeout, StartPeriod, StartInterval int64
		Retries                                       int
	}
	if err := json.Unmarshal([]byte(inspect("opts-a-1", "{{json .Config.Healthcheck}}")), &hc); err != nil ||
		strings.Join(hc.Test, " ") != "CMD-SHELL true" || hc.Interval != 1e9 || hc.Timeout != 2e9 || hc.StartPeriod != 5e9 || hc.StartInterval != 1e8 || hc.Retries != 4 {
		t.Errorf("healthcheck: %v %+v", err, hc)
	}
	if got := inspect("opts-b-1", "{{json .Config.Healthcheck}} {{json .State.Health}}"); got != "null null" {
		t.Errorf("a disabled healthcheck: %q", got)
	}
	// the profile adds extra; --always-recreate-deps recreates b's
	// dependency though nothing changed
	if r := compose("--profile", "more", "up", "-d"); r.code != 0 || !strings.Contains(states(), "extra running") {
		t.Errorf("--profile more: exit %d, %q\n%s", r.code, states(), r.stderr)
	}
	before := inspect("opts-a-1", "{{.Id}}")
	os.WriteFile(filepath.Join(dir, "extra.env"), []byte("UNUSED=1\n"), 0o644)
	if r := compose("--env-file", "extra.env", "up", "-d", "--always-recreate-deps", "b"); r.code != 0 || !strings.Contains(r.stderr, "opts-a-1  Recreated") {
		t.Errorf("--always-recreate-deps: exit %d\n%s", r.code, r.stderr)
	}
	// compose's labels of a recreated container: its predecessor, and the
	// environment files asked for
	if got := inspect("opts-a-1", `{{index .Config.Labels "com.docker.compose.replace"}} {{index .Config.Labels "com.docker.compose.project.environment_file"}}`); got != before+" extra.env" {
		t.Errorf("replace and environment_file labels: %q, want %q", got, before+" extra.env")
	}
	// a change, and --no-recreate keeps the container as it is
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(strings.Replace(upOptions, "V: one", "V: two", 1)), 0o644)
	if r := compose("up", "-d", "--no-recreate"); r.code != 0 || strings.Contains(r.stderr, "Recreate") {
		t.Errorf("--no-recreate: exit %d\n%s", r.code, r.stderr)
	}
	if r := compose("up", "-d", "--force-recreate", "--no-recreate"); r.code != 125 {
		t.Errorf("--force-recreate with --no-recreate: exit %d, %q", r.code, r.stderr)
	}
	if r := compose("up", "-d", "--pull", "sometimes"); r.code != 125 || !strings.Contains(r.stderr, `invalid --pull option "sometimes"`) {
		t.Errorf("--pull sometimes: exit %d, %q", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(dir, "missing.yaml"), []byte("name: missing\nservices:\n  x:\n    image: nosuch:1\n"), 0o644)
	if r := compose("-f", "missing.yaml", "up", "-d", "--pull", "never"); r.code == 0 || !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("--pull never of a missing image: exit %d, %q", r.code, r.stderr)
	}

	// ls: the project, its status, as json too
	if ls := compose("ls", "-q").stdout; ls != "opts\n" {
		t.Errorf("ls -q: %q", ls)
	}
	var projects []struct{ Name, Status, ConfigFiles string }
	if err := json.Unmarshal([]byte(compose("ls", "--format", "json").stdout), &projects); err != nil || len(projects) != 1 ||
		projects[0].Name != "opts" || projects[0].Status != "running(3)" || projects[0].ConfigFiles != filepath.Join(dir, "compose.yaml") {
		t.Errorf("ls --format json: %v %+v", err, projects)
	}
	compose("--profile", "more", "stop")
	if ls := compose("ls", "-q").stdout; ls != "" {
		t.Errorf("ls -q of a stopped project: %q", ls)
	}
	if ls := compose("ls", "-a", "--format", "{{.Name}} {{.Status}}").stdout; ls != "opts exited(3)\n" {
		t.Errorf("ls -a: %q", ls)
	}
	// --rmi local leaves images with a name of their own
	if r := compose("--profile", "more", "down", "--rmi", "local"); r.code != 0 || strings.Contains(r.stderr, "Image ") {
		t.Errorf("down --rmi local: exit %d\n%s", r.code, r.stderr)
	}
	if imgs := compose("image", "ls", "-q").stdout; imgs == "" {
		t.Errorf("down --rmi local removed bb:1")
	}
}

// TestComposeAttachedKill: the first Ctrl-C of an attached up stops
// gracefully; a second one, while a container ignores SIGTERM, kills.
func TestComposeAttachedKill(t *testing.T) {
	dir, root, compose := composeRoot(t, `name: stubborn
services:
  app:
    image: bb:1
    command: ["sh", "-c", "trap '' TERM; echo ignoring; while true; do sleep 0.1; done"]
    stop_grace_period: 2m
`)
	up := startBerth(t, dir, root, "up")
	cmd, out, done := up.cmd, up.out, up.done
	waitFor(t, out, "the service's start", func() bool { return strings.Contains(out.String(), "app-1  | ignoring") })
	cmd.Process.Signal(syscall.SIGINT)
	waitFor(t, out, "a graceful stop", func() bool { return strings.Contains(out.String(), "Gracefully stopping...") })
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("a second SIGINT did not end up:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Killing...") || cmd.ProcessState.ExitCode() != 130 {
		t.Errorf("second SIGINT: exit %d\n%s", cmd.ProcessState.ExitCode(), out.String())
	}
	if ps := compose("ps", "-q").stdout; ps != "" {
		t.Errorf("running after the kill: %q", ps)
	}
}

// TestComposeAttachedStopWaits: the first Ctrl-C of an attached up stops
// the project and up waits for that stop: a service that ignores SIGTERM
// is killed at the end of its stop_grace_period and has exited (137) by
// the time up returns 130, its true exit said, as docker compose does.
func TestComposeAttachedStopWaits(t *testing.T) {
	dir, root, compose := composeRoot(t, `name: graceful
services:
  app:
    image: bb:1
    command: ["sh", "-c", "trap '' TERM; echo ignoring; while true; do sleep 0.1; done"]
    stop_grace_period: 3s
`)
	up := startBerth(t, dir, root, "up")
	cmd, out, done := up.cmd, up.out, up.done
	waitFor(t, out, "the service's start", func() bool { return strings.Contains(out.String(), "app-1  | ignoring") })
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("up did not end after its graceful stop:\n%s", out.String())
	}
	if ps := compose("ps", "-a", "--format", "{{.State}} {{.ExitCode}}").stdout; ps != "exited 137\n" {
		t.Errorf("the service when up returned: %q\n%s", ps, out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(out.String(), "Gracefully stopping...") ||
		!strings.Contains(out.String(), "app-1 exited with code 137") || strings.Contains(out.String(), "exited with code 0") {
		t.Errorf("up after one SIGINT: exit %d\n%s", code, out.String())
	}
}

// TestComposeAttachFalse: a service with attach: false is left out of an
// attached up's logs unless --attach names it.
func TestComposeAttachFalse(t *testing.T) {
	_, _, compose := composeRoot(t, `name: quiet
services:
  job:
    image: bb:1
    command: ["sh", "-c", "echo working; sleep 0.5; exit 3"]
  noisy:
    image: bb:1
    init: true
    attach: false
    command: ["sh", "-c", "echo chatter; exec sleep 60"]
`)
	if r := compose("up", "--exit-code-from", "job"); r.code != 3 || !strings.HasPrefix(r.stdout, "Attaching to job-1\n") || strings.Contains(r.stdout, "chatter") {
		t.Errorf("attach: false: exit %d\n%s", r.code, r.stdout)
	}
	if r := compose("up", "--exit-code-from", "job", "--attach", "job", "--attach", "noisy"); r.code != 3 || !strings.Contains(r.stdout, "noisy-1  | chatter") {
		t.Errorf("--attach noisy: exit %d\n%s", r.code, r.stdout)
	}
}

// TestComposeReplicasAndRestart: deploy.replicas and scale: set how many
// containers a service has; restart: on-failure:N retries N times.
func TestComposeReplicasAndRestart(t *testing.T) {
	_, _, compose := composeRoot(t, `name: rep
services:
  r:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    deploy: {replicas: 2}
  s:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    scale: 3
  crash:
    image: bb:1
    command: ["sh", "-c", "echo try; exit 1"]
    restart: on-failure:2
`)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	if ps := compose("ps", "--format", "{{.Name}}", "r", "s").stdout; ps != "rep-r-1\nrep-r-2\nrep-s-1\nrep-s-2\nrep-s-3\n" {
		t.Errorf("replicas and scale: %q", ps)
	}
	// the first run and two retries, then it stays exited
	state := func() string {
		return compose("container", "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "rep-crash-1").stdout
	}
	for i := 0; i < 250 && state() != "exited 2\n"; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if st, logs := state(), compose("logs", "--no-log-prefix", "crash").stdout; st != "exited 2\n" || logs != "try\ntry\ntry\n" {
		t.Errorf("restart: on-failure:2: %q, logs %q", st, logs)
	}
}

// TestComposeTerminal: in a terminal, exec and run allocate a TTY unless
// -T, and up and down show compose's live progress.
func TestComposeTerminal(t *testing.T) {
	dir, root, compose := composeRoot(t, `name: term
services:
  app:
    image: bb:1
    init: true
    command: ["sleep", "60"]
`)
	inTerminal := terminal(t, dir, root)
	if out := inTerminal("up -d"); !strings.Contains(out, "[+] Running 2/2") || !strings.Contains(out, "✔ Container term-app-1") {
		t.Errorf("up's live progress: %q", out)
	}
	if ps := compose("ps", "--format", "{{.State}}").stdout; ps != "running\n" {
		t.Fatalf("after up in a terminal: %q", ps)
	}
	if out := inTerminal("exec app sh -c 'tty; busybox stty size'"); !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "30 100") {
		t.Errorf("exec in a terminal: %q", out)
	}
	if out := inTerminal("exec -T app busybox tty"); !strings.Contains(out, "not a tty") {
		t.Errorf("exec -T in a terminal: %q", out)
	}
	// docker's habits: -it, and --no-tty for -T
	if out := inTerminal("exec -it app busybox tty"); !strings.Contains(out, "/dev/pts/") {
		t.Errorf("exec -it in a terminal: %q", out)
	}
	if out := inTerminal("exec --no-tty app busybox tty"); !strings.Contains(out, "not a tty") {
		t.Errorf("exec --no-tty in a terminal: %q", out)
	}
	if out := inTerminal("run --rm -it app busybox tty"); !strings.Contains(out, "/dev/pts/") {
		t.Errorf("run -it in a terminal: %q", out)
	}
	// stdin is the command's, as compose's exec keeps it open
	if r := berth(t, dir, "piped in\n", "--root", root, "exec", "-T", "app", "cat"); r.stdout != "piped in\n" {
		t.Errorf("exec -T with stdin: %q %q", r.stdout, r.stderr)
	}
	if out := inTerminal("run --rm app busybox tty"); !strings.Contains(out, "/dev/pts/") {
		t.Errorf("run in a terminal: %q", out)
	}
	if out := inTerminal("down -t 0"); !strings.Contains(out, "✔ Network term_default") || !strings.Contains(out, "Removed") {
		t.Errorf("down's live progress: %q", out)
	}
}

// TestComposeNamespaces: pid, ipc and uts shared with another service or
// the host, ipc none, and the cgroup settings without a deploy section
// (and deploy's memory limit beside mem_limit).
func TestComposeNamespaces(t *testing.T) {
	parent := fmt.Sprintf("berth-test-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		// the parent cgroup is left by the containers, as Docker leaves it
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent)
		for _, d := range append(dirs, "/sys/fs/cgroup/"+parent) {
			os.Remove(d)
		}
	})
	_, _, compose := composeRoot(t, `name: ns
services:
  a:
    image: bb:1
    init: true
    command: ["sh", "-c", "echo shared > /dev/shm/mark; exec sleep 60"]
    ipc: shareable
    cpu_period: 50000
    cpu_quota: 25000
    mem_swappiness: 10
    oom_kill_disable: true
    mem_limit: 32m
    cgroup_parent: `+parent+`
    device_cgroup_rules: ["c 42:* rmw"]
    annotations: {org.example.key: value}
  b:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    pid: service:a
    ipc: service:a
    deploy:
      resources:
        limits:
          memory: 24m
  h:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    pid: host
    ipc: host
    uts: host
    cgroup: host
  n:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    ipc: none
  e:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    external_links: ["`+parent+`-ext:extalias"]
`)
	if r := compose("container", "run", "-d", "--name", parent+"-ext", "bb:1", "sleep", "60"); r.code != 0 {
		t.Fatalf("the external container: %s", r.stderr)
	}
	t.Cleanup(func() { compose("container", "rm", "-f", parent+"-ext") })
	up := compose("up", "-d", "--wait")
	if up.code != 0 {
		t.Fatalf("up: exit %d\n%s", up.code, up.stderr)
	}
	namespaces := func(service string) string {
		return compose("exec", "-T", service, "sh", "-c", "for n in pid ipc uts cgroup; do busybox readlink /proc/self/ns/$n; done").stdout
	}
	var host []string
	for _, n := range []string{"pid", "ipc", "uts", "cgroup"} {
		l, _ := os.Readlink("/proc/self/ns/" + n)
		host = append(host, l)
	}
	a, b, h := strings.Fields(namespaces("a")), strings.Fields(namespaces("b")), strings.Fields(namespaces("h"))
	if len(a) != 4 || len(b) != 4 || a[0] != b[0] || a[1] != b[1] || a[2] == b[2] || a[3] == host[3] {
		t.Errorf("b shares a's PID and IPC namespaces, not its UTS: a %q, b %q", a, b)
	}
	if !slices.Equal(h, host) {
		t.Errorf("h is in the host's namespaces: %q, host %q", h, host)
	}
	if got := compose("exec", "-T", "b", "cat", "/dev/shm/mark").stdout; got != "shared\n" {
		t.Errorf("b sees a's /dev/shm: %q", got)
	}
	if hn, _ := os.Hostname(); compose("exec", "-T", "h", "busybox", "hostname").stdout != hn+"\n" {
		t.Errorf("uts: host: not the host's hostname %q", hn)
	}
	if r := compose("exec", "-T", "n", "busybox", "test", "-e", "/dev/shm"); r.code == 0 {
		t.Errorf("ipc: none left a /dev/shm")
	}
	inspect := func(name, tmpl string) string {
		return strings.TrimSpace(compose("container", "inspect", "-f", tmpl, name).stdout)
	}
	// cgroup v2 has no swappiness and cannot turn the OOM killer off:
	// Docker drops both there, with a warning, and inspect shows it
	want := "50000 25000 10 true " + parent + " shareable"
	if unifiedCgroup() {
		want = "50000 25000 <no value> false " + parent + " shareable"
		if !strings.Contains(up.stderr, "OomKillDisable discarded") || !strings.Contains(up.stderr, "Memory swappiness discarded") {
			t.Errorf("up on cgroup v2 did not warn of the dropped settings: %q", up.stderr)
		}
	}
	if got := inspect("ns-a-1", "{{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.MemorySwappiness}} {{.HostConfig.OomKillDisable}} {{.HostConfig.CgroupParent}} {{.HostConfig.IpcMode}}"); got != want {
		t.Errorf("a's settings in inspect: %q, want %q", got, want)
	}
	// a memory limit without a swap setting: memory+swap twice it, as Docker sets it
	if got := inspect("ns-a-1", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}") + ", " + inspect("ns-b-1", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"); got != "33554432 67108864, 25165824 50331648" {
		t.Errorf("mem_limit 32m and deploy's memory 24m in inspect: %q", got)
	}
	if got := inspect("ns-h-1", "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}}"); got != "host host host" {
		t.Errorf("h's modes in inspect: %q", got)
	}
	if got := inspect("ns-a-1", `{{index .HostConfig.Annotations "org.example.key"}} {{index .HostConfig.DeviceCgroupRules 0}}`); got != "value c 42:* rmw" {
		t.Errorf("a's annotations and device rules in inspect: %q", got)
	}
	if devs, err := os.ReadFile("/sys/fs/cgroup/devices/" + parent + "/" + inspect("ns-a-1", "{{.Id}}") + "/devices.list"); err == nil && !strings.Contains(string(devs), "c 42:* rwm") {
		t.Errorf("devices.list lacks the rule:\n%s", devs) // cgroup v1; v2 filters with eBPF
	}
	if got := inspect("ns-e-1", "{{index .HostConfig.Links 0}}"); got != "/"+parent+"-ext:/ns-e-1/extalias" {
		t.Errorf("external_links: %q", got)
	}
	pid := inspect("ns-a-1", "{{.State.Pid}}")
	if cg, _ := os.ReadFile("/proc/" + pid + "/cgroup"); !strings.Contains(string(cg), "/"+parent+"/") {
		t.Errorf("a's cgroup is not under %s:\n%s", parent, cg)
	}
	if cfs, err := os.ReadFile("/sys/fs/cgroup/cpu/" + parent + "/" + inspect("ns-a-1", "{{.Id}}") + "/cpu.cfs_quota_us"); err == nil && string(cfs) != "25000\n" {
		t.Errorf("cpu.cfs_quota_us: %q", cfs) // cgroup v1; v2 has cpu.max
	}
	// joining a namespace that is not shareable is refused, as by Docker
	r := compose("container", "run", "--rm", "--ipc", "container:ns-n-1", "bb:1", "true")
	if r.code == 0 || !strings.Contains(r.stderr, "not shareable") {
		t.Errorf("--ipc container: of a private one: exit %d, %q", r.code, r.stderr)
	}
	for _, bad := range [][]string{{"--pid", "bogus"}, {"--ipc", "bogus"}, {"--uts", "private"}, {"--uts", "host", "-h", "name"}, {"--cpus", "1", "--cpu-quota", "1000"}} {
		if r := compose(append(append([]string{"container", "run", "--rm"}, bad...), "bb:1", "true")...); r.code != 125 {
			t.Errorf("%q: exit %d, %q", bad, r.code, r.stderr)
		}
	}
}

// TestComposeWatch: watch copies changed files into the running container
// (and removes those removed), restarts for a restart rule, runs a
// sync+exec command; up --watch does the same while attached; rebuild is
// refused before anything is made.
func TestComposeWatch(t *testing.T) {
	dir, root, compose := composeRoot(t, `name: wt
services:
  app:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    develop:
      watch:
        - {path: ./src, action: sync, target: /srv, ignore: ["*.tmp"], initial_sync: true}
        - {path: ./hooks, action: sync+exec, target: /hooks, exec: {command: ["sh", "-c", "echo ran > /tmp/exec"]}}
        - {path: ./conf, action: restart}
`)
	for _, d := range []string{"src", "hooks", "conf"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "src", "before.txt"), []byte("before\n"), 0o644)
	cmd := exec.Command(berthBin, "--root", root, "watch")
	cmd.Dir = dir
	var out fixture.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	until := func(what string, ok func() bool) { t.Helper(); waitFor(t, &out, what, ok) }
	until("the watch", func() bool { return strings.Contains(out.String(), "⦿ Watch enabled") })
	cat := func(p string) string { return compose("exec", "-T", "app", "cat", p).stdout }
	if got := cat("/srv/before.txt"); got != "before\n" {
		t.Errorf("initial sync: %q", got)
	}
	// sync: a new file, one in a new directory, an ignored one; a removal
	os.WriteFile(filepath.Join(dir, "src", "new.txt"), []byte("new\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "src", "deep", "er"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "deep", "er", "f.txt"), []byte("deep\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "src", "scratch.tmp"), []byte("x"), 0o644)
	os.Remove(filepath.Join(dir, "src", "before.txt"))
	until("the sync", func() bool { return cat("/srv/deep/er/f.txt") == "deep\n" })
	if got := cat("/srv/new.txt"); got != "new\n" {
		t.Errorf("synced file: %q", got)
	}
	if r := compose("exec", "-T", "app", "busybox", "test", "-e", "/srv/scratch.tmp"); r.code == 0 {
		t.Errorf("an ignored file was synced")
	}
	if r := compose("exec", "-T", "app", "busybox", "test", "-e", "/srv/before.txt"); r.code == 0 {
		t.Errorf("a removed file stayed in the container")
	}
	// sync+exec
	os.WriteFile(filepath.Join(dir, "hooks", "h.sh"), []byte("#!/bin/sh\n"), 0o755)
	until("the exec", func() bool { return cat("/tmp/exec") == "ran\n" })
	if got := cat("/hooks/h.sh"); got != "#!/bin/sh\n" {
		t.Errorf("sync+exec's file: %q", got)
	}
	// restart
	started := compose("container", "inspect", "-f", "{{.State.StartedAt}}", "wt-app-1").stdout
	os.WriteFile(filepath.Join(dir, "conf", "app.ini"), []byte("x=1\n"), 0o644)
	until("the restart", func() bool {
		return strings.Contains(out.String(), `service(s) ["app"] restarted`)
	})
	if now := compose("container", "inspect", "-f", "{{.State.StartedAt}}", "wt-app-1").stdout; now == started {
		t.Errorf("not restarted: started at %s still", now)
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("watch after SIGINT: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("watch went on after SIGINT:\n%s", out.String())
	}
	if ps := compose("ps", "--format", "{{.State}}").stdout; ps != "running\n" {
		t.Errorf("the service after the watch ended: %q", ps)
	}

	// up --watch: the same while attached; Ctrl-C stops both
	up := exec.Command(berthBin, "--root", root, "up", "--watch")
	up.Dir = dir
	out.Reset()
	up.Stdout, up.Stderr = &out, &out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	upDone := make(chan error, 1)
	go func() { upDone <- up.Wait() }()
	defer up.Process.Kill()
	until("up's watch", func() bool { return strings.Contains(out.String(), "⦿ Watch enabled") })
	os.WriteFile(filepath.Join(dir, "src", "up.txt"), []byte("up\n"), 0o644)
	until("up's sync", func() bool { return cat("/srv/up.txt") == "up\n" })
	up.Process.Signal(syscall.SIGINT)
	select {
	case <-upDone:
	case <-time.After(30 * time.Second):
		t.Fatalf("up --watch went on after SIGINT:\n%s", out.String())
	}
	if ps := compose("ps", "-q").stdout; ps != "" || !strings.Contains(out.String(), "Attaching to app-1") {
		t.Errorf("up --watch after SIGINT: running %q\n%s", ps, out.String())
	}

	// rebuild needs a build: section: refused, nothing made
	os.WriteFile(filepath.Join(dir, "rebuild.yaml"), []byte("name: rb\nservices:\n  x:\n    image: bb:1\n    develop:\n      watch: [{path: ., action: rebuild}]\n"), 0o644)
	for _, args := range [][]string{{"watch"}, {"up", "--watch"}} {
		r := compose(append([]string{"-f", "rebuild.yaml"}, args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, `service "x": develop.watch: action rebuild needs a build: section`) {
			t.Errorf("%v with rebuild: exit %d, %q", args, r.code, r.stderr)
		}
	}
	if nets := compose("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(nets, "rb_default") {
		t.Errorf("a refused watch made a network: %q", nets)
	}
	if r := compose("up", "-d", "--watch"); r.code != 125 {
		t.Errorf("up -d --watch: exit %d, %q", r.code, r.stderr)
	}
}

// TestComposeBlkio: blkio_config reaches the container's cgroup and
// inspect; a device that is not a block device is refused at creation.
func TestComposeBlkio(t *testing.T) {
	disk := fixture.BlockDevice(t)
	_, _, compose := composeRoot(t, `name: blk
services:
  app:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    blkio_config:
      weight: 300
      device_read_bps: [{path: `+disk+`, rate: 1mb}]
      device_write_iops: [{path: `+disk+`, rate: 120}]
`)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	inspect := func(tmpl string) string {
		return strings.TrimSpace(compose("container", "inspect", "-f", tmpl, "blk-app-1").stdout)
	}
	if got := inspect("{{.HostConfig.BlkioWeight}} {{json .HostConfig.BlkioDeviceReadBps}} {{json .HostConfig.BlkioDeviceWriteIOps}}"); got != `300 [{"Path":"`+disk+`","Rate":1048576}] [{"Path":"`+disk+`","Rate":120}]` {
		t.Errorf("inspect: %s", got)
	}
	var st unix.Stat_t
	unix.Stat(disk, &st)
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	cg := "/sys/fs/cgroup/blkio/berth/" + inspect("{{.Id}}")
	if data, err := os.ReadFile(cg + "/blkio.throttle.read_bps_device"); err == nil { // cgroup v1; v2 has io.max
		if got := strings.TrimSpace(string(data)); got != dev+" 1048576" {
			t.Errorf("blkio.throttle.read_bps_device: %q, want %s 1048576", got, dev)
		}
		iops, _ := os.ReadFile(cg + "/blkio.throttle.write_iops_device")
		if got := strings.TrimSpace(string(iops)); got != dev+" 120" {
			t.Errorf("blkio.throttle.write_iops_device: %q", got)
		}
		if w, err := os.ReadFile(cg + "/blkio.bfq.weight"); err == nil && strings.TrimSpace(string(w)) != "300" {
			t.Errorf("blkio.bfq.weight: %q", w) // with the BFQ scheduler built in
		}
	}
	if r := compose("container", "run", "--rm", "--device-read-bps", "/dev/null:1mb", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "/dev/null is not a block device") {
		t.Errorf("a character device throttled: exit %d, %q", r.code, r.stderr)
	}
	if r := compose("container", "run", "--rm", "--blkio-weight", "5", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "between 10 and 1000") {
		t.Errorf("--blkio-weight 5: exit %d, %q", r.code, r.stderr)
	}
}

// TestComposeEndpoints: ipv4_address, mac_address and interface_name on
// any of a service's networks, kept across a restart; network connect
// --ip keeps its address across one too.
func TestComposeEndpoints(t *testing.T) {
	dir, _, compose := composeRoot(t, `name: ep
services:
  app:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    networks:
      front: {ipv4_address: 10.231.1.10, priority: 10}
      back: {ipv4_address: 10.231.2.20, mac_address: "02:42:0a:e7:02:99", interface_name: backside, gw_priority: 1}
networks:
  front: {ipam: {config: [{subnet: 10.231.1.0/24}]}}
  back: {ipam: {config: [{subnet: 10.231.2.0/24}]}}
`)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	addrs := func() string {
		return compose("exec", "-T", "app", "sh", "-c", "busybox ip -o -4 addr show | busybox awk '{print $2, $4}'; busybox cat /sys/class/net/backside/address").stdout
	}
	want := "lo 127.0.0.1/8\neth0 10.231.1.10/24\nbackside 10.231.2.20/24\n02:42:0a:e7:02:99\n"
	if got := addrs(); got != want {
		t.Errorf("interfaces:\n%s\nwant\n%s", got, want)
	}
	// gw_priority: the default route is back's, though front comes first
	if route := compose("exec", "-T", "app", "sh", "-c", "busybox ip route | busybox grep default").stdout; !strings.HasPrefix(route, "default via 10.231.2.1 dev backside") {
		t.Errorf("default route: %q", route)
	}
	// connect --ip to a third network: kept across a restart too
	if r := compose("network", "create", "--subnet", "10.231.3.0/24", "epextra"); r.code != 0 {
		t.Fatalf("network create: %s", r.stderr)
	}
	t.Cleanup(func() { compose("network", "rm", "epextra") })
	if r := compose("network", "connect", "--ip", "10.231.3.30", "epextra", "ep-app-1"); r.code != 0 {
		t.Fatalf("network connect: %s", r.stderr)
	}
	compose("restart", "-t", "1")
	if got, want := addrs(), strings.Replace(want, "backside 10.231.2.20/24\n", "backside 10.231.2.20/24\neth2 10.231.3.30/24\n", 1); got != want {
		t.Errorf("after a restart:\n%s\nwant\n%s", got, want)
	}
	// refused before anything is made: an address outside the subnet, a
	// name the kernel would not take
	for bad, msg := range map[string]string{
		"ipv4_address: 10.9.9.9":                "invalid IP address 10.9.9.9: it does not belong to network bad_n's subnet 10.231.4.0/24",
		"interface_name: averyveryverylongname": `invalid interface name "averyveryverylongname" on network bad_n`,
	} {
		os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("name: bad\nservices:\n  x:\n    image: bb:1\n    networks:\n      n: {"+bad+"}\nnetworks:\n  n: {ipam: {config: [{subnet: 10.231.4.0/24}]}}\n"), 0o644)
		if r := compose("-f", "bad.yaml", "up", "-d"); r.code == 0 || !strings.Contains(r.stderr, msg) {
			t.Errorf("%s: exit %d, %q", bad, r.code, r.stderr)
		}
		if ps := compose("-f", "bad.yaml", "ps", "-a", "-q").stdout; ps != "" {
			t.Errorf("%s left a container: %q", bad, ps)
		}
		compose("-f", "bad.yaml", "down")
	}
}

// TestComposeAttachedRestarts: an attached up says each run's end of a
// container its restart policy starts again, not only the last.
func TestComposeAttachedRestarts(t *testing.T) {
	_, _, compose := composeRoot(t, `name: again
services:
  crash:
    image: bb:1
    command: ["sh", "-c", "echo try; sleep 0.2; exit 1"]
    restart: on-failure:2
`)
	r := compose("up", "--no-color")
	if strings.Count(r.stdout, "crash-1  | try\n") != 3 || strings.Count(r.stdout, "crash-1 exited with code 1\n") != 3 {
		t.Errorf("three runs, three ends: exit %d\n%s", r.code, r.stdout)
	}
	// each end comes after its run's output
	if i := strings.Index(r.stdout, "exited"); i < strings.Index(r.stdout, "try") {
		t.Errorf("an end before its run's output:\n%s", r.stdout)
	}
}

// background is a berth command left running while the test goes on:
// its output so far, and done, closed when it has ended.
type background struct {
	cmd  *exec.Cmd
	out  *fixture.Buffer
	done <-chan struct{}
}

// startBerth starts berth with args against root, from dir; it is killed
// at the test's end if it still runs.
func startBerth(t *testing.T, dir, root string, args ...string) *background {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"--root", root}, args...)...)
	cmd.Dir = dir
	out := &fixture.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return &background{cmd: cmd, out: out, done: done}
}

func waitFor(t *testing.T, out *fixture.Buffer, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("waited in vain for %s:\n%s", what, out.String())
}
