package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/systemd"
)

// previousBoot is the boot ID the simulated reboot writes into the states:
// the kernel's own cannot change without a real reboot.
const previousBoot = "00000000-0000-4000-8000-000000000000"

// simulateReboot leaves the berth root as a reboot would: every process of
// the root killed (the keepers, monitors and the containers' inits the states name,
// after checking that each is that process, and their descendants; never
// anything else), its mounts (overlays, namespaces, tmpfs) undone, its
// bridges and nftables table deleted, its directory under /run/berth and
// its containers' cgroups removed; and the states' boot ID made another
// boot's. The states still say running, as a power cut leaves them.
func simulateReboot(t *testing.T, root string) {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(root, "containers", "*", "state.json"))
	var targets []int
	var cgroups []string
	for _, p := range dirs {
		id := filepath.Base(filepath.Dir(p))
		var st record.State
		data, err := os.ReadFile(p)
		if err != nil || json.Unmarshal(data, &st) != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
		var rec record.Record
		if data, err := os.ReadFile(filepath.Join(filepath.Dir(p), "config.json")); err == nil && json.Unmarshal(data, &rec) == nil {
			cgroups = append(cgroups, rec.Spec.Cgroup())
		}
		if st.MonitorPid > 0 {
			if start, err := runtime.StartTime(st.MonitorPid); err == nil && start == st.MonitorStart {
				targets = append(targets, st.MonitorPid)
			}
		}
		// the keeper would otherwise see its monitor die and recover the
		// container, which no power cut leaves alive
		if st.Keeper > 0 {
			if start, err := runtime.StartTime(st.Keeper); err == nil && start == st.KeeperStart {
				targets = append(targets, st.Keeper)
			}
		}
		if st.Pid > 0 {
			if cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid)); err == nil && strings.Contains(string(cg), id) {
				targets = append(targets, st.Pid)
			}
		}
	}
	// the whole trees, frozen first so that no monitor sees its
	// container end and records it: a power cut records nothing
	all := descendants(targets)
	for _, pid := range all {
		unix.Kill(pid, unix.SIGSTOP)
	}
	for _, pid := range all {
		unix.Kill(pid, unix.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range all {
		for processLives(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d outlived SIGKILL", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	run := filepath.Dir(monitor.RunDir(root))
	mounts := mountsUnder(t, root, run)
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			t.Errorf("unmounting %s: %v", m, err)
		}
	}
	h, err := netlink.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, b := range bridgesOf(t, root) {
		if err := netns.DeleteBridge(h, b); err != nil {
			t.Errorf("deleting bridge %s: %v", b, err)
		}
	}
	if conn, err := nftables.New(); err == nil {
		if _, err := conn.ListTableOfFamily(netns.TableName(filepath.Join(root, "networks")), nftables.TableFamilyIPv4); err == nil {
			conn.DelTable(&nftables.Table{Name: netns.TableName(filepath.Join(root, "networks")), Family: nftables.TableFamilyIPv4})
			if err := conn.Flush(); err != nil {
				t.Errorf("deleting the nftables table: %v", err)
			}
		}
	}
	if err := os.RemoveAll(run); err != nil {
		t.Errorf("removing %s: %v", run, err)
	}
	for _, cg := range cgroups {
		removeCgroup(cg)
	}
	for _, p := range dirs {
		var raw map[string]json.RawMessage
		data, _ := os.ReadFile(p)
		if json.Unmarshal(data, &raw) != nil {
			continue
		}
		if _, ok := raw["BootID"]; ok {
			raw["BootID"], _ = json.Marshal(previousBoot)
			out, _ := json.Marshal(raw)
			if err := os.WriteFile(p, out, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// editState sets fields of a container's state file, as another boot
// could have left them.
func editState(t *testing.T, root, id string, fields map[string]any) {
	t.Helper()
	p := filepath.Join(root, "containers", id, "state.json")
	var raw map[string]json.RawMessage
	data, err := os.ReadFile(p)
	if err != nil || json.Unmarshal(data, &raw) != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	for k, v := range fields {
		raw[k], _ = json.Marshal(v)
	}
	out, _ := json.Marshal(raw)
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// containerID finds a container's ID by its name in its record, without
// berth.
func containerID(t *testing.T, root, name string) string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(root, "containers", "*", "config.json"))
	for _, p := range paths {
		var rec record.Record
		if data, err := os.ReadFile(p); err == nil && json.Unmarshal(data, &rec) == nil && rec.Name == name {
			return rec.ID
		}
	}
	t.Fatalf("no container %s", name)
	return ""
}

// descendants are pids and every process descended from them.
func descendants(pids []int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parens
		rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
		f := strings.Fields(rest)
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if len(f) > 1 {
			ppid, _ := strconv.Atoi(f[1])
			children[ppid] = append(children[ppid], pid)
		}
	}
	var out []int
	var walk func(int)
	walk = func(pid int) {
		if slices.Contains(out, pid) {
			return
		}
		out = append(out, pid)
		for _, c := range children[pid] {
			walk(c)
		}
	}
	for _, p := range pids {
		walk(p)
	}
	return out
}

// processLives reports whether pid runs (a zombie does not).
func processLives(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
	f := strings.Fields(rest)
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// mountsUnder are the mount points under the given directories, deepest
// first.
func mountsUnder(t *testing.T, dirs ...string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) < 5 {
			continue
		}
		p := runtime.UnescapeMount(fields[4])
		for _, d := range dirs {
			if p == d || strings.HasPrefix(p, d+"/") {
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

// bridgesOf are the bridges the root's network records name.
func bridgesOf(t *testing.T, root string) []string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(root, "networks", "*.json"))
	var out []string
	for _, p := range paths {
		if filepath.Base(p) == "ipam.json" {
			continue
		}
		var n netns.Network
		if data, err := os.ReadFile(p); err == nil && json.Unmarshal(data, &n) == nil && n.Bridge != "" {
			out = append(out, n.Bridge)
		}
	}
	return out
}

// linkExists reports whether the host has an interface name.
func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// removeCgroup removes a container's cgroup (path, such as /berth/ID) in
// every hierarchy, once its processes are gone, as a reboot does.
func removeCgroup(path string) {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + path)
	dirs = append(dirs, "/sys/fs/cgroup"+path)
	for _, d := range dirs {
		// children first: rmdir takes empty cgroups only
		var sub []string
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				sub = append(sub, p)
			}
			return nil
		})
		for i := len(sub) - 1; i >= 0; i-- {
			unix.Rmdir(sub[i])
		}
	}
}

const rebootStack = `name: rb
services:
  db:
    image: bb:1
    init: true
    restart: always
    command: ["sh", "-c", "echo hello from db > /tmp/greeting; while true; do busybox nc -l -p 6379 -e cat /tmp/greeting; done"]
    healthcheck:
      test: ["CMD-SHELL", "test -s /tmp/greeting"]
      interval: 200ms
  web:
    image: bb:1
    init: true
    restart: unless-stopped
    command: ["sh", "-c", "while true; do busybox nc -l -p 7000 -e busybox nc db 6379; done"]
    ports: ["127.0.0.1::7000"]
    depends_on:
      db: {condition: service_healthy}
  worker:
    image: bb:1
    init: true
    restart: on-failure
    command: ["sh", "-c", "if [ ! -e /tmp/failed-once ]; then touch /tmp/failed-once; exit 3; fi; exec sleep 1000"]
  idle:
    image: bb:1
    init: true
    restart: unless-stopped
    command: ["sleep", "1000"]
  once:
    image: bb:1
    init: true
    restart: "no"
    command: ["sleep", "1000"]
  done:
    image: bb:1
    restart: on-failure
    command: ["true"]
  app:
    image: bb:1
    init: true
    restart: always
    command: ["sleep", "1000"]
    depends_on:
      done: {condition: service_completed_successfully}
  clash:
    image: bb:1
    init: true
    restart: always
    command: ["sleep", "1000"]
    ports: ["127.0.0.1:CLASHPORT:80"]
  after:
    image: bb:1
    init: true
    restart: always
    command: ["sleep", "1000"]
    depends_on: [clash]
`

// waitState polls until check passes on the output of args, or fails the
// test after a while.
func waitState(t *testing.T, what string, run func(args ...string) result, check func(string) bool, args ...string) string {
	t.Helper()
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if out = run(args...).stdout; check(out) {
			return out
		}
	}
	t.Fatalf("%s: never; last %q", what, out)
	return ""
}

// unitExecStart is the command line of a unit file's ExecStart (words
// without quotes, as Install writes them for plain paths).
func unitExecStart(t *testing.T, unit string) []string {
	t.Helper()
	for _, l := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			return strings.Fields(v)
		}
	}
	t.Fatalf("no ExecStart in the unit:\n%s", unit)
	return nil
}

// TestReboot: a stack left as a reboot leaves it (see simulateReboot) is
// seen as stopped by the reboot (exited 255, no error), and `berth system
// boot`, run as the installed unit runs it, restores exactly what
// Docker's daemon would: always, unless-stopped unless stopped by hand,
// on-failure that the reboot stopped; not no, not on-failure that had
// ended; a --rm container goes. Dependencies come first (web waits for db
// to be healthy), the restart count starts again at 0, the published
// port and the names resolve again. A container that cannot start (its
// fixed host port taken meanwhile), and its dependent, are one error line
// each, and the rest comes up; a boot once the port is free restores
// those two and leaves the rest as it is; a third changes nothing; down
// leaves nothing.
func TestReboot(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clashPort := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	dir, root, compose := composeRoot(t, strings.ReplaceAll(rebootStack, "CLASHPORT", clashPort))
	t.Cleanup(func() { compose("container", "rm", "-f", "solo", "tmp") })
	if r := compose("up", "-d", "--wait"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"container", "run", "-d", "--restart", "always", "--init", "--name", "solo", "bb:1", "sleep", "1000"},
		{"container", "run", "-d", "--rm", "--init", "--name", "tmp", "bb:1", "sleep", "1000"},
		{"stop", "idle"},
	} {
		if r := compose(args...); r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	// the worker failed once and runs again: a restart count to reset
	waitState(t, "the worker restarted once", compose, func(s string) bool { return s == "running 1\n" },
		"container", "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "rb-worker-1")
	before := compose("ps", "-a", "--format", "{{.Service}} {{.State}}").stdout
	if want := "after running\napp running\nclash running\ndb running\ndone exited\nidle exited\nonce running\nweb running\nworker running\n"; before != want {
		t.Fatalf("before the reboot:\n%s", before)
	}

	simulateReboot(t, root)
	for _, b := range bridgesOf(t, root) {
		if linkExists(b) {
			t.Fatalf("bridge %s survived the simulated reboot", b)
		}
	}

	// every command sees the reboot's state as it is: stopped, no error
	ps := compose("ps", "-a", "--format", "{{.Service}} {{.State}} {{.ExitCode}}")
	if want := "after exited 255\napp exited 255\nclash exited 255\ndb exited 255\ndone exited 0\nidle exited 143\nonce exited 255\nweb exited 255\nworker exited 255\n"; ps.code != 0 || ps.stdout != want || ps.stderr != "" {
		t.Errorf("ps after the reboot: exit %d\n%s%s", ps.code, ps.stdout, ps.stderr)
	}
	if st := compose("container", "ps", "-a", "--format", "{{.Names}} {{.Status}}", "--filter", "name=solo").stdout; !strings.HasPrefix(st, "solo Exited (255)") {
		t.Errorf("container ps after the reboot: %q", st)
	}

	// a process of the machine's took clash's port meanwhile
	taken, err := net.Listen("tcp", "127.0.0.1:"+clashPort)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	// the unit's command, as systemd would run it
	units := t.TempDir()
	if r := compose("system", "install", "--unit-dir", units); r.code != 0 {
		t.Fatalf("system install: exit %d\n%s", r.code, r.stderr)
	}
	unitFiles, _ := filepath.Glob(filepath.Join(units, "berth-boot*.service"))
	if len(unitFiles) != 1 {
		t.Fatalf("unit files: %v", unitFiles)
	}
	unit, _ := os.ReadFile(unitFiles[0])
	argv := unitExecStart(t, string(unit))
	began := time.Now()
	boot := berthVia(t, argv[0], dir, nil, "", argv[1:]...)
	t.Logf("system boot restored the stack in %v", time.Since(began))
	var failures []string
	for _, l := range strings.Split(boot.stderr, "\n") {
		if strings.HasPrefix(l, "berth: ") {
			failures = append(failures, l)
		}
	}
	if boot.code != 1 || len(failures) != 2 ||
		!strings.Contains(failures[0], "rb-after-1") || !strings.Contains(failures[0], "dependency rb-clash-1 failed to start") ||
		!strings.Contains(failures[1], "rb-clash-1") || !strings.Contains(failures[1], "port is already allocated") {
		t.Errorf("system boot with clash's port taken: exit %d, failures %q\n%s", boot.code, failures, boot.stderr)
	}
	for _, want := range []string{"Network rb_default  Created", "Container rb-db-1  Healthy", "Container rb-done-1  Exited", "Container rb-app-1  Started", "Container rb-web-1  Started", "Container solo  Started", "Container tmp  Removed"} {
		if !strings.Contains(boot.stderr, want) {
			t.Errorf("boot's progress lacks %q:\n%s", want, boot.stderr)
		}
	}
	// web waited for db's health
	if at := strings.Index; at(boot.stderr, "rb-db-1  Healthy") > at(boot.stderr, "rb-web-1  Starting") {
		t.Errorf("web started before db was healthy:\n%s", boot.stderr)
	}
	ps = compose("ps", "-a", "--format", "{{.Service}} {{.State}} {{.Health}}")
	if want := "after exited \napp running \nclash exited \ndb running healthy\ndone exited \nidle exited \nonce exited \nweb running \nworker running \n"; ps.stdout != want {
		t.Errorf("ps after system boot:\n%s%s", ps.stdout, ps.stderr)
	}
	all := compose("container", "ps", "-a", "--format", "{{.Names}} {{.State}}").stdout
	if !strings.Contains(all, "solo running\n") || strings.Contains(all, "tmp ") {
		t.Errorf("the containers outside the project after system boot:\n%s", all)
	}
	counts := compose("container", "inspect", "-f", "{{.Name}} {{.RestartCount}}", "rb-db-1", "rb-web-1", "rb-worker-1", "solo").stdout
	if counts != "/rb-db-1 0\n/rb-web-1 0\n/rb-worker-1 0\n/solo 0\n" {
		t.Errorf("restart counts after system boot:\n%s", counts)
	}
	// the published port from the host, and web reaching db by its name
	port := strings.TrimSpace(compose("port", "web", "7000").stdout)
	if got := greeting(port); got != "hello from db\n" {
		t.Errorf("through web's published port %s after the boot: %q", port, got)
	}
	// and db resolving web
	webIP := strings.TrimSpace(compose("container", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "rb-web-1").stdout)
	if out := compose("exec", "-T", "db", "busybox", "nslookup", "-type=a", "web").stdout; webIP == "" || !strings.Contains(out, "Address: "+webIP) {
		t.Errorf("db resolving web (%s) after the boot:\n%s", webIP, out)
	}

	// once the port is free: clash and after, and nothing else
	pids := func(names ...string) string {
		return compose(append([]string{"container", "inspect", "-f", "{{.Name}} {{.State.Pid}} {{.RestartCount}}"}, names...)...).stdout
	}
	restored := []string{"rb-app-1", "rb-db-1", "rb-web-1", "rb-worker-1", "solo"}
	first := pids(restored...)
	taken.Close()
	again := compose("system", "boot")
	if again.code != 0 || !strings.Contains(again.stderr, "Container rb-clash-1  Started") || !strings.Contains(again.stderr, "Container rb-after-1  Started") ||
		strings.Contains(again.stderr, "rb-db-1  Start") || strings.Contains(again.stderr, "Network") {
		t.Errorf("system boot once the port is free: exit %d\n%s", again.code, again.stderr)
	}
	if second := pids(restored...); second != first {
		t.Errorf("the second system boot changed what ran:\n%s\nthen\n%s", first, second)
	}
	// a third: nothing to do, the same processes
	all3 := append(restored, "rb-clash-1", "rb-after-1")
	first = pids(all3...)
	began = time.Now()
	third := compose("system", "boot")
	t.Logf("a system boot with nothing to do took %v", time.Since(began))
	if third.code != 0 || third.stderr != "" {
		t.Errorf("a third system boot: exit %d\n%s", third.code, third.stderr)
	}
	if second := pids(all3...); second != first {
		t.Errorf("the third system boot changed the containers:\n%s\nthen\n%s", first, second)
	}

	if r := compose("down", "-v", "-t", "0"); r.code != 0 {
		t.Errorf("down: exit %d\n%s", r.code, r.stderr)
	}
	if r := compose("container", "rm", "-f", "solo"); r.code != 0 {
		t.Errorf("rm solo: exit %d\n%s", r.code, r.stderr)
	}
	noLeftovers(t, root)
	if m := mountsUnder(t, filepath.Dir(monitor.RunDir(root))); len(m) > 0 {
		t.Errorf("mounts left under the run directory: %v", m)
	}
}

// TestRebootWithoutBoot: without system boot, each command a user may
// type first works on the state a reboot left, unrefreshed: inspect,
// logs, stop, rm -f, network rm and volume rm (refused: in use) each on a
// container no other command has looked at; ps and ls (exited, 255),
// including a state whose recorded PIDs are now another process's (left
// alone) and one written before the boot ID was kept; start and up run
// containers again on their re-made network (published port and names
// work); down and system prune remove the rest.
func TestRebootWithoutBoot(t *testing.T) {
	_, root, compose := composeRoot(t, `name: rw
services:
  db:
    image: bb:1
    init: true
    command: ["sh", "-c", "echo hi > /tmp/greeting; while true; do busybox nc -l -p 6379 -e cat /tmp/greeting; done"]
  web:
    image: bb:1
    init: true
    command: ["sh", "-c", "while true; do busybox nc -l -p 7000 -e busybox nc db 6379; done"]
    ports: ["127.0.0.1::7000"]
  spare:
    image: bb:1
    init: true
    command: ["sleep", "1000"]
`)
	t.Cleanup(func() {
		compose("container", "rm", "-f", "insp", "logsc", "stopc", "rmc", "loner")
		compose("network", "rm", "extra")
		compose("volume", "rm", "vol")
	})
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	if r := compose("network", "create", "extra"); r.code != 0 {
		t.Fatalf("network create: %s", r.stderr)
	}
	for _, args := range [][]string{
		{"--name", "insp", "bb:1", "sleep", "1000"},
		{"--name", "logsc", "bb:1", "sh", "-c", "echo before the reboot; exec sleep 1000"},
		{"--name", "stopc", "bb:1", "sleep", "1000"},
		{"--name", "rmc", "bb:1", "sleep", "1000"},
		{"--name", "loner", "--network", "extra", "-v", "vol:/data", "bb:1", "sleep", "1000"},
	} {
		if r := compose(append([]string{"container", "run", "-d", "--init"}, args...)...); r.code != 0 {
			t.Fatalf("run %v: %s", args, r.stderr)
		}
	}
	waitState(t, "logsc's line", compose, func(s string) bool { return s == "before the reboot\n" }, "container", "logs", "logsc")
	simulateReboot(t, root)
	// after a reboot the recorded PIDs may be other processes', start
	// times and all: here spare's monitor and init are a process of the
	// test's, which must neither be signalled nor taken for them
	other := exec.Command("sleep", "1000")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	start, err := runtime.StartTime(other.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	spare := containerID(t, root, "rw-spare-1") // from the files: a command would refresh the state
	editState(t, root, spare, map[string]any{"Pid": other.Process.Pid, "MonitorPid": other.Process.Pid, "MonitorStart": start})
	// a state written before berth recorded the boot: started before it
	editState(t, root, containerID(t, root, "rw-db-1"), map[string]any{"BootID": "", "StartedAt": time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)})

	// commands on one container each, the first to look at it
	if r := compose("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}} {{.State.Error}}", "insp"); r.code != 0 || r.stdout != "exited 255 0 \n" {
		t.Errorf("inspect after the reboot: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	if r := compose("container", "logs", "logsc"); r.code != 0 || r.stdout != "before the reboot\n" {
		t.Errorf("logs after the reboot: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	if r := compose("container", "stop", "stopc"); r.code != 0 || r.stderr != "" {
		t.Errorf("stop after the reboot: exit %d, %s", r.code, r.stderr)
	}
	if r := compose("container", "rm", "-f", "rmc"); r.code != 0 || r.stderr != "" {
		t.Errorf("rm -f after the reboot: exit %d, %s", r.code, r.stderr)
	}
	// loner, stopped by the reboot, holds no endpoint: its network goes,
	// as Docker lets a stopped container's network go; its volume stays
	if r := compose("network", "rm", "extra"); r.code != 0 {
		t.Errorf("network rm after the reboot: exit %d, %s", r.code, r.stderr)
	}
	if r := compose("volume", "rm", "vol"); r.code == 0 || !strings.Contains(r.stderr, "volume is in use - [loner]") {
		t.Errorf("volume rm of loner's volume after the reboot: exit %d, %s", r.code, r.stderr)
	}

	if ps := compose("ps", "-a", "--format", "{{.Service}} {{.State}} {{.ExitCode}}"); ps.stdout != "db exited 255\nspare exited 255\nweb exited 255\n" || ps.stderr != "" {
		t.Errorf("ps after the reboot: exit %d\n%s%s", ps.code, ps.stdout, ps.stderr)
	}
	if !processLives(other.Process.Pid) {
		t.Errorf("a process whose PID a state named was killed")
	}
	if ls := compose("ls", "-a", "--format", "{{.Name}} {{.Status}}"); ls.code != 0 || !strings.Contains(ls.stdout, "rw exited(3)") {
		t.Errorf("ls after the reboot: exit %d\n%s%s", ls.code, ls.stdout, ls.stderr)
	}
	if r := compose("rm", "-f", "spare"); r.code != 0 {
		t.Errorf("rm -f: exit %d\n%s", r.code, r.stderr)
	}
	if r := compose("start", "db"); r.code != 0 {
		t.Fatalf("start: exit %d\n%s", r.code, r.stderr)
	}
	if r := compose("up", "-d"); r.code != 0 || !strings.Contains(r.stderr, "rw-web-1  Started") {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	if ps := compose("ps", "-a", "--format", "{{.Service}} {{.State}}").stdout; ps != "db running\nspare running\nweb running\n" {
		t.Errorf("ps after start and up:\n%s", ps)
	}
	port := strings.TrimSpace(compose("port", "web", "7000").stdout)
	if got := greeting(port); got != "hi\n" {
		t.Errorf("through web's published port %s: %q", port, got)
	}
	made := bridgesOf(t, root)
	if r := compose("down", "-t", "0"); r.code != 0 || !strings.Contains(r.stderr, "Network rw_default  Removed") {
		t.Errorf("down: exit %d\n%s", r.code, r.stderr)
	}
	if r := compose("system", "prune", "-f"); r.code != 0 {
		t.Errorf("system prune: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if ps := compose("container", "ps", "-a", "-q").stdout; ps != "" {
		t.Errorf("containers left after down and prune: %q", ps)
	}
	if r := compose("volume", "rm", "vol"); r.code != 0 {
		t.Errorf("volume rm once its container is gone: exit %d, %s", r.code, r.stderr)
	}
	noLeftovers(t, root)
	// the default network stays (Docker's does); rw_default's bridge goes
	kept := bridgesOf(t, root)
	for _, b := range made {
		if !slices.Contains(kept, b) && linkExists(b) {
			t.Errorf("bridge %s left", b)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(root, "networks", "ports")); len(left) > 0 {
		t.Errorf("published ports left: %v", left)
	}
}

// TestSystemInstall: install writes the unit for this root and this
// berth, and enables it with the wants link systemctl would make (the
// directory is not systemd's); installing again changes nothing;
// --uninstall removes both, and again is no error. A root with a space
// and a % is quoted and escaped in the unit.
func TestSystemInstall(t *testing.T) {
	units := t.TempDir()
	root := filepath.Join(t.TempDir(), "my root%1")
	run := func(args ...string) result {
		t.Helper()
		return berth(t, units, "", append([]string{"--root", root}, args...)...)
	}
	name := systemd.UnitName(root)
	path, link := filepath.Join(units, name), filepath.Join(units, "multi-user.target.wants", name)
	for range 2 {
		r := run("system", "install", "--unit-dir", units)
		if r.code != 0 || r.stdout != "Created "+path+"\nEnabled "+name+" ("+link+")\n" {
			t.Fatalf("install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	unit, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nType=oneshot\n", "\nRemainAfterExit=yes\n", "\nAfter=network-online.target ", "\nWants=network-online.target\n",
		"\nWantedBy=multi-user.target\n", "\nKillMode=process\n",
		"\nExecStart=" + berthBin + ` --root "` + strings.ReplaceAll(root, "%", "%%") + `" system boot` + "\n",
	} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q:\n%s", want, unit)
		}
	}
	if target, err := os.Readlink(link); err != nil || target != path {
		t.Errorf("wants link: %q, %v", target, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(link)); len(entries) != 1 {
		t.Errorf("wants directory: %v", entries)
	}
	for range 2 {
		if r := run("system", "install", "--uninstall", "--unit-dir", units); r.code != 0 || r.stdout != "Removed "+path+"\n" {
			t.Errorf("uninstall: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	for _, p := range []string{path, link} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after uninstall: %v", p, err)
		}
	}
}

// TestBootWaitTimeout: a dependency that never becomes healthy after the
// reboot holds its dependent back for --wait-timeout only; the boot then
// ends, reporting the dependent, with the rest restored. A boot run at
// start-up that waited for ever would hold the machine's start.
func TestBootWaitTimeout(t *testing.T) {
	_, root, compose := composeRoot(t, `name: bwt
services:
  db:
    image: bb:1
    restart: always
    # healthy on its first run only (its mark of health is on a tmpfs):
    # after the reboot, its marker on the volume keeps it starting for the
    # hour of its start period
    command: ["sh", "-c", "if [ ! -e /v/ran ]; then touch /v/ran /h/ok; fi; exec sleep 1000"]
    volumes: ["data:/v"]
    tmpfs: [/h]
    healthcheck:
      test: ["CMD-SHELL", "test -e /h/ok"]
      interval: 200ms
      start_period: 1h
      start_interval: 200ms
  app:
    image: bb:1
    restart: always
    command: ["sleep", "1000"]
    depends_on:
      db: {condition: service_healthy}
  other:
    image: bb:1
    restart: always
    command: ["sleep", "1000"]
volumes:
  data:
`)
	if r := compose("up", "-d", "--wait"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	simulateReboot(t, root)
	boot := compose("system", "boot", "--wait-timeout", "2")
	if boot.code != 1 || !strings.Contains(boot.stderr, "berth: container bwt-app-1: not restored: dependency bwt-db-1 did not become healthy within 2s") {
		t.Errorf("system boot with db never healthy: exit %d\n%s", boot.code, boot.stderr)
	}
	if ps := compose("ps", "-a", "--format", "{{.Service}} {{.State}}").stdout; ps != "app exited\ndb running\nother running\n" {
		t.Errorf("ps after the boot:\n%s", ps)
	}
}

// TestBootLocksProjects: system boot holds each project it restores as an
// up holds it, so an up or a down of that project run meanwhile waits
// for it rather than racing it: here the test holds the project's lock,
// as an up would, and the boot restores nothing of it until it lets go.
func TestBootLocksProjects(t *testing.T) {
	dir, root, compose := composeRoot(t, `name: blk
services:
  app:
    image: bb:1
    init: true
    restart: always
    command: ["sleep", "1000"]
`)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	simulateReboot(t, root)
	lock, err := os.OpenFile(filepath.Join(root, "projects", "blk.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	boot := startBerth(t, dir, root, "system", "boot")
	// the networks come first, before any project's lock
	waitFor(t, boot.out, "the network made again", func() bool { return strings.Contains(boot.out.String(), "Network blk_default  Created") })
	time.Sleep(time.Second) // a boot that ignored the lock would have restored app by now
	select {
	case <-boot.done:
		t.Fatalf("system boot ended while the project was locked:\n%s", boot.out.String())
	default:
	}
	if ps := compose("ps", "-a", "--format", "{{.Service}} {{.State}}").stdout; ps != "app exited\n" {
		t.Errorf("ps while the project is locked: %q", ps)
	}
	unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	select {
	case <-boot.done:
	case <-time.After(time.Minute):
		t.Fatalf("system boot did not end once the project was free:\n%s", boot.out.String())
	}
	if code := boot.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(boot.out.String(), "Container blk-app-1  Started") {
		t.Errorf("system boot: exit %d\n%s", code, boot.out.String())
	}
	if ps := compose("ps", "--format", "{{.Service}} {{.State}}").stdout; ps != "app running\n" {
		t.Errorf("ps after the boot: %q", ps)
	}
}
