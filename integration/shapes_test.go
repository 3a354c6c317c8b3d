package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	units "github.com/docker/go-units"
	"github.com/fsnotify/fsnotify"
)

// shapes is a project whose listings scripts parse: a service that
// publishes one port and exposes another, with an argument holding spaces,
// a service with no ports, and a one-shot that has ended.
const shapes = `name: shapes
services:
  web:
    image: bb:1
    init: true
    command: ["sh", "-c", "echo up; exec sleep 60"]
    ports: ["7071"]
    expose: ["8000"]
    volumes: [/anon]
  quiet:
    image: bb:1
    init: true
    command: ["sleep", "60"]
  once:
    image: bb:1
    command: ["true"]
`

// TestComposePsJSON: ps --format json has docker compose's fields, types
// and key order; PORTS and Publishers list an exposed port nothing
// publishes; the command keeps the quotes around an argument with spaces.
func TestComposePsJSON(t *testing.T) {
	_, _, compose := composeRoot(t, shapes)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	compose("wait", "once")

	js := compose("ps", "--format", "json", "web").stdout
	var row map[string]any
	if err := json.Unmarshal([]byte(js), &row); err != nil {
		t.Fatalf("ps --format json: %v\n%s", err, js)
	}
	want := []string{"Command", "CreatedAt", "Engine", "ExitCode", "Health", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Name", "Names",
		"Networks", "Ports", "Project", "Publishers", "RunningFor", "Service", "Size", "State", "Status"}
	var keys []string
	for k := range row {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, want) {
		t.Errorf("ps --format json fields:\n%v\nwant\n%v", keys, want)
	}
	// compose writes a map: the keys in order, as a script diffing the text sees them
	if !strings.HasPrefix(js, `{"Command":"\"sh -c 'echo up; exe…\"","CreatedAt":`) {
		t.Errorf("ps --format json is not in compose's key order, or the command lost its quotes:\n%s", js)
	}
	if row["Names"] != "shapes-web-1" || row["LocalVolumes"] != "1" || row["Size"] != "0B" || row["Engine"] != "" {
		t.Errorf("Names %v, LocalVolumes %#v, Size %#v, Engine %#v\n%s", row["Names"], row["LocalVolumes"], row["Size"], row["Engine"], js)
	}
	pubs, _ := row["Publishers"].([]any)
	if len(pubs) != 2 {
		t.Fatalf("Publishers: %#v, want the published port and the exposed one", row["Publishers"])
	}
	if p := pubs[1].(map[string]any); p["TargetPort"] != 8000.0 || p["PublishedPort"] != 0.0 || p["URL"] != "" || p["Protocol"] != "tcp" {
		t.Errorf("the exposed port's publisher: %v", p)
	}
	if p := pubs[0].(map[string]any); p["TargetPort"] != 7071.0 || p["PublishedPort"] == 0.0 || p["URL"] != "0.0.0.0" {
		t.Errorf("the published port's publisher: %v", p)
	}
	if ports := compose("ps", "--format", "{{.Ports}}", "web").stdout; !strings.HasPrefix(ports, "8000/tcp, 0.0.0.0:") || !strings.HasSuffix(ports, "->7071/tcp\n") {
		t.Errorf("PORTS: %q, want the exposed 8000/tcp and the published 7071", ports)
	}
	if cmd := compose("ps", "--no-trunc", "--format", "{{.Command}}", "web").stdout; cmd != `"sh -c 'echo up; exec sleep 60'"`+"\n" {
		t.Errorf("COMMAND --no-trunc: %s", cmd)
	}
	// no ports: an empty list, not null
	if js := compose("ps", "--format", "json", "quiet").stdout; !strings.Contains(js, `"Publishers":[]`) {
		t.Errorf("a service without ports: %s", js)
	}
	// the same types in docker ps's json
	var dps map[string]any
	if err := json.Unmarshal([]byte(compose("container", "ps", "--filter", "name=shapes-web-1", "--format", "json").stdout), &dps); err != nil ||
		dps["LocalVolumes"] != "1" || dps["Size"] != "0B" || dps["Names"] != "shapes-web-1" || !strings.HasPrefix(dps["Ports"].(string), "8000/tcp, ") {
		t.Errorf("docker ps json: %v, %v", err, dps)
	}
}

// TestComposeLsStatus: ls counts, as docker compose does, only the
// containers it lists: running ones, and every one with -a.
func TestComposeLsStatus(t *testing.T) {
	_, _, compose := composeRoot(t, shapes)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	compose("wait", "once")
	status := func(args ...string) string {
		var rows []struct{ Name, Status string }
		out := compose(append([]string{"ls", "--format", "json"}, args...)...).stdout
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("ls --format json: %v\n%s", err, out)
		}
		for _, r := range rows {
			if r.Name == "shapes" {
				return r.Status
			}
		}
		return ""
	}
	if s := status(); s != "running(2)" {
		t.Errorf("ls: %q, want running(2)", s)
	}
	if s := status("-a"); s != "exited(1), running(2)" {
		t.Errorf("ls -a: %q, want exited(1), running(2)", s)
	}
}

// TestComposeTop: top prints docker compose's one table, SERVICE and #
// first, every running container's processes in it, CMD whole and last.
func TestComposeTop(t *testing.T) {
	_, _, compose := composeRoot(t, shapes)
	if r := compose("up", "-d", "--scale", "quiet=2"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	top := compose("top").stdout
	lines := strings.Split(strings.TrimSuffix(top, "\n"), "\n")
	if len(lines) == 0 || !regexp.MustCompile(`^SERVICE +# +UID +PID +PPID +C +STIME +TTY +TIME +CMD$`).MatchString(lines[0]) {
		t.Fatalf("top's header:\n%s", top)
	}
	for _, want := range []string{`^quiet +1 +root +[0-9]+ .* sleep 60$`, `^quiet +2 +root +[0-9]+ .* sleep 60$`, `^web +1 +root +[0-9]+ .* sh -c echo up; exec sleep 60$|^web +1 +root +[0-9]+ .* sleep 60$`} {
		if !slices.ContainsFunc(lines[1:], regexp.MustCompile(want).MatchString) {
			t.Errorf("top has no line like %s:\n%s", want, top)
		}
	}
	if strings.Contains(top, "shapes-") {
		t.Errorf("top prints container names as headings, compose's older layout:\n%s", top)
	}
}

// TestNetworkInspectContainers: network inspect lists the containers
// attached to the network, as Docker's Containers does, and only while
// they are.
func TestNetworkInspectContainers(t *testing.T) {
	_, _, compose := composeRoot(t, shapes)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	compose("wait", "once")
	members := func() map[string]struct{ Name, EndpointID, MacAddress, IPv4Address, IPv6Address string } {
		var m map[string]struct{ Name, EndpointID, MacAddress, IPv4Address, IPv6Address string }
		out := compose("network", "inspect", "-f", "{{json .Containers}}", "shapes_default").stdout
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("network inspect: %v\n%s", err, out)
		}
		return m
	}
	id := strings.TrimSpace(compose("ps", "-q", "web").stdout)
	m := members()
	web, ok := m[id]
	if len(m) != 2 || !ok || web.Name != "shapes-web-1" || !strings.HasPrefix(web.IPv4Address, strings.TrimSpace(compose("container", "inspect", "-f", "{{.NetworkSettings.Networks.shapes_default.IPAddress}}", id).stdout)+"/") ||
		web.MacAddress == "" || len(web.EndpointID) != 64 {
		t.Errorf("network inspect's Containers: %+v, want the two running containers (web is %s)", m, id)
	}
	compose("stop", "-t", "0")
	if m := members(); len(m) != 0 {
		t.Errorf("network inspect's Containers after stop: %+v", m)
	}
}

// TestImageSizeUnpacked: image ls and inspect give an image's unpacked
// size, its files', as Docker does, not its compressed blobs'.
func TestImageSizeUnpacked(t *testing.T) {
	_, run := busyboxRoot(t)
	// busyboxRoot's image: busybox, passwd, group and a one-byte file
	// (the links take no room)
	var want int64
	for _, f := range []string{"/bin/busybox"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		want += st.Size()
	}
	want += int64(len("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n") + len("root:x:0:\nnogroup:x:65534:\n") + 1)
	if got := strings.TrimSpace(run("image", "inspect", "-f", "{{.Size}}", "bb:1").stdout); got != strconv.FormatInt(want, 10) {
		t.Errorf("image inspect Size: %s, want %d", got, want)
	}
	if got := run("image", "ls", "--format", "{{.Size}}", "bb").stdout; got != units.HumanSizeWithPrecision(float64(want), 3)+"\n" {
		t.Errorf("image ls SIZE: %q, want %s", got, units.HumanSizeWithPrecision(float64(want), 3))
	}
}

// TestRestartingNeverExited: a restart: always service that exits is
// restarting from its exit to its next run, as in Docker: no state it is
// recorded in, which ps -a shows, says exited meanwhile.
func TestRestartingNeverExited(t *testing.T) {
	_, root, compose := composeRoot(t, `name: loop
services:
  crash:
    image: bb:1
    command: ["sh", "-c", "sleep 0.3; exit 3"]
    restart: always
`)
	if r := compose("create"); r.code != 0 {
		t.Fatalf("create: exit %d\n%s", r.code, r.stderr)
	}
	id := strings.TrimSpace(compose("ps", "-a", "-q").stdout)
	dir := filepath.Join(root, "containers", id)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		t.Fatal(err)
	}
	if r := compose("start"); r.code != 0 {
		t.Fatalf("start: exit %d\n%s", r.code, r.stderr)
	}
	// every state written, as ps would read it, until the third restart
	restarts, last := 0, ""
	timeout := time.After(60 * time.Second)
	for restarts < 3 {
		select {
		case ev := <-w.Events:
			if filepath.Base(ev.Name) != "state.json" || !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) {
				continue
			}
			var st struct{ Status string }
			data, err := os.ReadFile(ev.Name)
			if err != nil || json.Unmarshal(data, &st) != nil {
				continue
			}
			if st.Status == "exited" {
				t.Fatalf("a restart: always container was recorded exited between its runs (after %d restarts)", restarts)
			}
			if st.Status == "restarting" && last != "restarting" {
				restarts++
			}
			last = st.Status
		case err := <-w.Errors:
			t.Fatal(err)
		case <-timeout:
			t.Fatalf("three restarts not seen, %d were", restarts)
		}
	}
	if ps := compose("ps", "-a", "--format", "{{.State}} {{.Status}}").stdout; !regexp.MustCompile(`^(running Up|restarting Restarting \(3\))`).MatchString(ps) {
		t.Errorf("ps -a: %q", ps)
	}
	if r := compose("stop", "-t", "1"); r.code != 0 {
		t.Errorf("stop: exit %d\n%s", r.code, r.stderr)
	}
	if ps := compose("ps", "-a", "--format", "{{.State}}").stdout; ps != "exited\n" {
		t.Errorf("ps -a after stop: %q, want exited", ps)
	}
}

// TestComposeEventsExits: events reports a container's create, start, each die
// with its exitCode (a run the restart policy follows included) and
// destroy, in compose's text and JSON shapes.
func TestComposeEventsExits(t *testing.T) {
	dir, root, compose := composeRoot(t, `name: evx
services:
  crash:
    image: bb:1
    command: ["sh", "-c", "exit 3"]
    restart: on-failure:1
    labels: {team: blue}
`)
	js := startBerth(t, dir, root, "events", "--json").out
	text := startBerth(t, dir, root, "events").out
	time.Sleep(300 * time.Millisecond) // their watches begin
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	compose("wait", "crash")
	if r := compose("down"); r.code != 0 {
		t.Fatalf("down: exit %d\n%s", r.code, r.stderr)
	}
	waitFor(t, js, "destroy", func() bool {
		return strings.Contains(js.String(), `"destroy"`) && strings.Contains(text.String(), " destroy ")
	})
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(js.String()), "\n") {
		var ev struct {
			Action, ID, Service, Type string
			Attributes                map[string]string
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("events --json: %v\n%s", err, line)
		}
		if !strings.HasPrefix(line, `{"action":`) || ev.Service != "crash" || ev.Type != "container" || ev.Attributes["name"] != "evx-crash-1" ||
			ev.Attributes["team"] != "blue" || ev.Attributes["com.docker.compose.project"] != "" {
			t.Errorf("event: %s", line)
		}
		a := ev.Action
		if a == "die" {
			a += "(" + ev.Attributes["exitCode"] + ")"
		}
		actions = append(actions, a)
	}
	if want := []string{"create", "start", "die(3)", "start", "die(3)", "destroy"}; !slices.Equal(actions, want) {
		t.Errorf("events: %v, want %v\n%s", actions, want, js.String())
	}
	if !regexp.MustCompile(`(?m)^[0-9-]{10} [0-9:]{8}\.[0-9]{6} container die [0-9a-f]{64} \(exitCode=3, image=bb:1, name=evx-crash-1, team=blue\)$`).MatchString(text.String()) {
		t.Errorf("events:\n%s", text.String())
	}
}

// TestComposeEventsKillStop: stop, kill and a stop that must fall back to
// SIGKILL are reported as Docker's daemon logs them: a kill event per
// signal sent (with its number), the die, and, for a stop, a stop event.
func TestComposeEventsKillStop(t *testing.T) {
	dir, root, compose := composeRoot(t, `name: evk
services:
  svc:
    image: bb:1
    init: true
    command: ["sleep", "1000"]
  stubborn:
    # PID 1 of its namespace without a handler: SIGTERM is not delivered
    image: bb:1
    command: ["sleep", "1000"]
    stop_grace_period: 1s
`)
	js := startBerth(t, dir, root, "events", "--json").out
	time.Sleep(300 * time.Millisecond) // its watch begins
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	for _, args := range [][]string{{"stop", "svc"}, {"start", "svc"}, {"kill", "svc"}, {"stop", "stubborn"}, {"down"}} {
		if r := compose(args...); r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	waitFor(t, js, "two destroys", func() bool { return strings.Count(js.String(), `"destroy"`) == 2 })
	actions := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(js.String()), "\n") {
		var ev struct {
			Action, Service string
			Attributes      map[string]string
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("events --json: %v\n%s", err, line)
		}
		a := ev.Action
		switch a {
		case "die":
			a += "(" + ev.Attributes["exitCode"] + ")"
		case "kill":
			a += "(" + ev.Attributes["signal"] + ")"
		}
		actions[ev.Service] = append(actions[ev.Service], a)
	}
	want := map[string][]string{
		"svc":      {"create", "start", "kill(15)", "die(143)", "stop", "start", "kill(9)", "die(137)", "destroy"},
		"stubborn": {"create", "start", "kill(15)", "kill(9)", "die(137)", "stop", "destroy"},
	}
	for svc, w := range want {
		if !slices.Equal(actions[svc], w) {
			t.Errorf("events of %s: %v, want %v\n%s", svc, actions[svc], w, js.String())
		}
	}
}
