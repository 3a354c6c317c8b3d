package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// lifecycle is a project with a long-running service that reacts to
// SIGHUP and keeps an anonymous volume, and a one-shot that fails.
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
    command: ["sh", "-c", "echo job says hi; sleep 1; exit 5"]
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
	if logs := compose("logs", "app").stdout; !strings.Contains(logs, "app-1 | got HUP") {
		t.Errorf("the signal did not reach the service: %q", logs)
	}
	if r := compose("pause"); r.code != 0 || !strings.Contains(states(), "life-app-1 paused") {
		t.Errorf("pause: exit %d, %q\n%s", r.code, states(), r.stderr)
	}
	if r := compose("unpause"); r.code != 0 || !strings.Contains(states(), "life-app-1 running") {
		t.Errorf("unpause: exit %d, %q\n%s", r.code, states(), r.stderr)
	}
	if r := compose("restart", "-t", "1", "app"); r.code != 0 || !strings.Contains(states(), "life-app-1 running") {
		t.Errorf("restart: exit %d, %q\n%s", r.code, states(), r.stderr)
	}
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
	_, _, compose := composeRoot(t, lifecycle)
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
	if r := compose("ps", "--filter", "name=x"); r.code != 125 {
		t.Errorf("an unsupported filter: exit %d", r.code)
	}

	// logs: prefixes, --no-log-prefix, --tail, -t, --index, --since
	if logs := compose("logs", "job").stdout; logs != "job-1 | job says hi\n" {
		t.Errorf("logs job: %q", logs)
	}
	if logs := compose("logs", "--no-log-prefix", "--index", "2", "app").stdout; logs != "started\n" {
		t.Errorf("logs --index 2 --no-log-prefix: %q", logs)
	}
	if logs := compose("logs", "-t", "--tail", "1", "job").stdout; !strings.HasPrefix(logs, "job-1 | 20") || !strings.HasSuffix(logs, "Z job says hi\n") {
		t.Errorf("logs -t --tail 1: %q", logs)
	}
	if logs := compose("logs", "--tail", "0", "job").stdout; logs != "" {
		t.Errorf("logs --tail 0: %q", logs)
	}
	if logs := compose("logs", "--since", "1h", "--until", "1h", "job").stdout; logs != "" {
		t.Errorf("logs --until 1h ago: %q", logs)
	}
	if logs := compose("logs", "--since", "1h", "job").stdout; logs != "job-1 | job says hi\n" {
		t.Errorf("logs --since 1h: %q", logs)
	}
	// -f follows a running container and ends at its exit
	compose("start", "job")
	if logs := compose("logs", "-f", "job"); logs.code != 0 || logs.stdout != "job-1 | job says hi\njob-1 | job says hi\n" {
		t.Errorf("logs -f: exit %d, %q", logs.code, logs.stdout)
	}
}
