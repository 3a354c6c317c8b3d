package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/monitor"
)

// busyboxRoot makes a state root holding the image bb:1, a busybox root
// filesystem imported with berth itself, and returns a runner for it.
func busyboxRoot(t testing.TB) (string, func(args ...string) result) {
	t.Helper()
	requireRoot(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static not installed (scripts/deps.sh installs it)")
	}
	root, dir := t.TempDir(), t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp"} {
		os.MkdirAll(filepath.Join(rootfs, d), 0o755)
	}
	os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777)
	data, _ := os.ReadFile("/bin/busybox")
	os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), data, 0o755)
	for _, a := range []string{"sh", "echo", "sleep", "id", "cat", "touch", "head", "seq", "true"} {
		os.Symlink("busybox", filepath.Join(rootfs, "bin", a))
	}
	os.WriteFile(filepath.Join(rootfs, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "etc", "group"), []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "etc", "notexec"), []byte("x"), 0o644)
	run := func(args ...string) result {
		t.Helper()
		return berth(t, dir, "", append([]string{"--root", root}, args...)...)
	}
	if r := run("image", "import", "-c", `CMD ["sh"]`, rootfs, "bb:1"); r.code != 0 {
		t.Fatalf("import: %s", r.stderr)
	}
	t.Cleanup(func() {
		// force-remove whatever a failed test left running, then the
		// runtime's state directory for this root
		out := run("container", "ps", "-a", "-q").stdout
		for _, id := range strings.Fields(out) {
			run("container", "rm", "-f", id)
		}
		os.RemoveAll(filepath.Dir(monitor.RunDir(root)))
	})
	return root, run
}

// noLeftovers fails the test if a container left a mount, a cgroup or a
// monitor behind.
func noLeftovers(t testing.TB, root string) {
	t.Helper()
	var names []string
	entries, _ := os.ReadDir(filepath.Join(root, "containers"))
	for _, e := range entries {
		if e.Name() != ".lock" && e.Name() != ".intents" {
			names = append(names, e.Name())
		}
	}
	intents, _ := os.ReadDir(filepath.Join(root, "containers", ".intents"))
	for _, e := range intents {
		names = append(names, ".intents/"+e.Name())
	}
	if len(names) > 0 {
		t.Errorf("containers left: %v", names)
	}
	if data, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(data), root) {
		t.Errorf("mounts left under %s", root)
	}
}

func TestContainerRunExitCodes(t *testing.T) {
	root, run := busyboxRoot(t)
	r := run("container", "run", "--rm", "bb:1", "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 3, out, err", r.code, r.stdout, r.stderr)
	}
	if r := run("container", "run", "--rm", "bb:1", "nosuchcmd"); r.code != 127 || !strings.Contains(r.stderr, "executable file not found") {
		t.Errorf("missing command: exit %d, %q", r.code, r.stderr)
	}
	if r := run("container", "run", "--rm", "bb:1", "/etc/notexec"); r.code != 126 {
		t.Errorf("not executable: exit %d, %q", r.code, r.stderr)
	}
	// an image found nowhere: a registry on loopback that refuses (a bare
	// name would send the test to Docker Hub), and the local store alone
	if r := run("container", "run", "--rm", "127.0.0.1:9/nosuchimage:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "nosuchimage") {
		t.Errorf("missing image: exit %d, %q", r.code, r.stderr)
	}
	if r := run("container", "run", "--rm", "--pull", "never", "nosuchimage:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "nosuchimage") {
		t.Errorf("missing image with --pull never: exit %d, %q", r.code, r.stderr)
	}
	if r := run("container", "run", "--rm", "-m", "lots", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "--memory") {
		t.Errorf("bad memory value: exit %d, %q", r.code, r.stderr)
	}
	if r := run("container", "run", "--rm", "--cpus", "abc", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "--cpus") {
		t.Errorf("bad cpus value: exit %d, %q", r.code, r.stderr)
	}
	noLeftovers(t, root)
}

func TestContainerLifecycle(t *testing.T) {
	root, run := busyboxRoot(t)
	id := strings.TrimSpace(run("container", "run", "-d", "--name", "web", "bb:1", "sh", "-c", "echo started; trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done").stdout)
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want an ID", id)
	}
	if r := run("container", "run", "-d", "--name", "web", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, `"/web" is already in use`) {
		t.Errorf("name clash: exit %d, %q", r.code, r.stderr)
	}
	ps := run("container", "ps").stdout
	if !strings.Contains(ps, id[:12]) || !strings.Contains(ps, "Up ") || !strings.Contains(ps, "web") {
		t.Errorf("ps:\n%s", ps)
	}
	if r := run("container", "rm", "web"); r.code == 0 || !strings.Contains(r.stderr, "container is running") {
		t.Errorf("rm of a running container: exit %d, %q", r.code, r.stderr)
	}
	// handles SIGTERM: stops at once, exit 0
	if r := run("container", "stop", "web"); r.code != 0 || r.stdout != "web\n" {
		t.Errorf("stop: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if got := run("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "web").stdout; got != "exited 0\n" {
		t.Errorf("after stop: %q", got)
	}
	if logs := run("container", "logs", "web").stdout; logs != "started\nbye\n" {
		t.Errorf("logs = %q", logs)
	}
	// ignores SIGTERM: killed after the grace period
	run("container", "run", "-d", "--name", "stubborn", "bb:1", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done")
	if r := run("container", "stop", "-t", "1", "stubborn"); r.code != 0 {
		t.Errorf("stop stubborn: %q", r.stderr)
	}
	if got := run("container", "inspect", "-f", "{{.State.ExitCode}}", "stubborn").stdout; got != "137\n" {
		t.Errorf("stubborn exit code %q, want 137 (SIGKILL)", got)
	}
	for _, n := range []string{"web", "stubborn"} {
		if r := run("container", "rm", n); r.code != 0 {
			t.Errorf("rm %s: %q", n, r.stderr)
		}
	}
	noLeftovers(t, root)
}

func TestContainerUserAndLimits(t *testing.T) {
	root, run := busyboxRoot(t)
	if r := run("container", "run", "--rm", "-u", "nobody", "bb:1", "id"); r.stdout != "uid=65534(nobody) gid=65534(nogroup)\n" {
		t.Errorf("-u nobody: %q %q", r.stdout, r.stderr)
	}
	if r := run("container", "run", "--rm", "-u", "ghost", "bb:1", "id"); r.code != 125 || !strings.Contains(r.stderr, "unable to find user ghost") {
		t.Errorf("-u ghost: exit %d, %q", r.code, r.stderr)
	}
	if r := run("container", "run", "--rm", "--read-only", "bb:1", "touch", "/x"); r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("--read-only write: exit %d, %q", r.code, r.stderr)
	}
	r := run("container", "run", "--rm", "--pids-limit", "8", "bb:1", "sh", "-c", "for i in $(seq 30); do sleep 2 & done; wait")
	if !strings.Contains(r.stderr, "can't fork") && !strings.Contains(r.stderr, "Resource temporarily unavailable") {
		t.Errorf("--pids-limit 8 let 30 processes start: exit %d, %q", r.code, r.stderr)
	}
	// -m alone limits memory+swap to twice the memory, as Docker does
	r = run("container", "run", "-d", "--network", "none", "-m", "16m", "bb:1", "sleep", "600")
	if id := strings.TrimSpace(r.stdout); r.code != 0 {
		t.Errorf("run -d -m 16m: exit %d, %q", r.code, r.stderr)
	} else {
		if got := run("container", "inspect", "-f", "{{.HostConfig.MemorySwap}}", id).stdout; got != "33554432\n" {
			t.Errorf("-m 16m: inspect says memory+swap %q, want 33554432", got)
		}
		// v1 limits memory+swap, v2 swap alone
		file, want := "/sys/fs/cgroup/memory/berth/"+id+"/memory.memsw.limit_in_bytes", "33554432"
		if unifiedCgroup() {
			file, want = "/sys/fs/cgroup/berth/"+id+"/memory.swap.max", "16777216"
		}
		if got, err := os.ReadFile(file); strings.TrimSpace(string(got)) != want {
			t.Errorf("-m 16m: %s is %q, %v; want %s", file, got, err, want)
		}
		run("container", "rm", "-f", id)
	}
	run("container", "run", "--name", "hog", "-m", "16m", "bb:1", "sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' x); echo survived")
	if got := run("container", "inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog").stdout; got != "true 137\n" {
		t.Errorf("-m 16m allocation: %q, want OOM-killed 137", got)
	}
	run("container", "rm", "hog")
	noLeftovers(t, root)
}

func TestContainerRestartOnFailure(t *testing.T) {
	root, run := busyboxRoot(t)
	run("container", "run", "-d", "--name", "flaky", "--restart", "on-failure:3", "bb:1", "sh", "-c", "echo try; exit 1")
	// wait returns at the next exit, as Docker's does; the policy runs on
	// after it, so watch for the last one (with a deadline, not a figure)
	if r := run("container", "wait", "flaky"); r.stdout != "1\n" {
		t.Errorf("wait: %q %q", r.stdout, r.stderr)
	}
	got := ""
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = run("container", "inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "flaky").stdout; got == "3 exited\n" {
			break
		}
	}
	if got != "3 exited\n" {
		t.Errorf("after on-failure:3: %q, want 3 restarts then exited", got)
	}
	if logs := run("container", "logs", "flaky").stdout; strings.Count(logs, "try") != 4 {
		t.Errorf("logs show %d runs, want 4:\n%s", strings.Count(logs, "try"), logs)
	}
	run("container", "rm", "flaky")
	noLeftovers(t, root)
}

// TestShimWithoutMonitor: a waiting monitor that cannot exec the monitor
// again at the exit (its program gone meanwhile) has recorded the exit
// itself; the next start cleans up what that run left, and runs it again.
func TestShimWithoutMonitor(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"berth", "berth-monitor", "berth-init", "berth-shim"} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(berthBin), name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), data, 0o755)
	}
	root, _ := busyboxRoot(t)
	run := func(args ...string) result {
		t.Helper()
		return berthVia(t, filepath.Join(dir, "berth"), t.TempDir(), nil, "", append([]string{"--root", root}, args...)...)
	}
	id := strings.TrimSpace(run("container", "run", "-d", "bb:1", "sh", "-c", "echo up; exec sleep 300").stdout)
	for i := 0; run("container", "logs", id).stdout != "up\n"; i++ {
		if i == 100 {
			t.Fatal("never up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // waiting as berth-shim by now
	monitor, _ := os.ReadFile(filepath.Join(dir, "berth-monitor"))
	os.Remove(filepath.Join(dir, "berth-monitor"))
	if r := run("container", "stop", "-t", "0", id); r.code != 0 {
		t.Fatalf("stop: %s", r.stderr)
	}
	if got := run("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id).stdout; got != "exited 137\n" {
		t.Errorf("after the stop: %q", got)
	}
	os.WriteFile(filepath.Join(dir, "berth-monitor"), monitor, 0o755)
	if r := run("container", "start", id); r.code != 0 {
		t.Fatalf("start after a monitor that could not come back: %s", r.stderr)
	}
	if got := run("container", "inspect", "-f", "{{.State.Status}}", id).stdout; got != "running\n" {
		t.Errorf("after the start: %q", got)
	}
	run("container", "rm", "-f", id)
	noLeftovers(t, root)
}

// TestWaitRemoved: wait prints the exit code of a container that --rm
// removes as it ends, as docker wait does.
func TestWaitRemoved(t *testing.T) {
	root, run := busyboxRoot(t)
	// long enough for wait to start before the exit on a busy machine
	id := strings.TrimSpace(run("container", "run", "--rm", "-d", "bb:1", "sh", "-c", "sleep 1; exit 5").stdout)
	if r := run("container", "wait", id); r.code != 0 || r.stdout != "5\n" {
		t.Errorf("wait: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	// the monitor removes it after the exit that wait reported: ps stops
	// listing it when its record goes, and its directory (the upper
	// layer, the log), then the removal's intent, follow
	gone := func() bool {
		_, dir := os.Stat(filepath.Join(root, "containers", id))
		_, intent := os.Stat(filepath.Join(root, "containers", ".intents", id+".json"))
		return run("container", "ps", "-aq").stdout == "" && errors.Is(dir, fs.ErrNotExist) && errors.Is(intent, fs.ErrNotExist)
	}
	for i := 0; !gone(); i++ {
		if i == 100 {
			t.Fatal("--rm left the container")
		}
		time.Sleep(50 * time.Millisecond)
	}
	noLeftovers(t, root)
}

// TestStartAfterStop: a stop keeps the restart policy from restarting the
// container until it is started again, as Docker's manual stop does; then
// the policy applies again.
func TestStartAfterStop(t *testing.T) {
	root, run := busyboxRoot(t)
	id := strings.TrimSpace(run("container", "run", "-d", "--restart", "always", "bb:1", "sh", "-c", "sleep 0.2; exit 1").stdout)
	restarts := func() int {
		n, _ := strconv.Atoi(strings.TrimSpace(run("container", "inspect", "-f", "{{.RestartCount}}", id).stdout))
		return n
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for i := 0; !cond(); i++ {
			if i == 100 {
				t.Fatalf("never %s: %s", what, run("container", "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", id).stdout)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("restarted", func() bool { return restarts() >= 1 })
	run("container", "stop", "-t", "1", id)
	stopped := restarts()
	time.Sleep(500 * time.Millisecond)
	if got := run("container", "inspect", "-f", "{{.State.Status}}", id).stdout; got != "exited\n" || restarts() != stopped {
		t.Errorf("after stop: %q, %d restarts (was %d)", got, restarts(), stopped)
	}
	if r := run("container", "start", id); r.code != 0 {
		t.Fatal(r.stderr)
	}
	waitFor("restarted after the start", func() bool { return restarts() > stopped })
	run("container", "rm", "-f", id)
	noLeftovers(t, root)
}

// TestMonitorWaits: once its container runs, the monitor waits as
// berth-shim, the small program, when it is beside berth-monitor, and as
// berth-monitor itself when it is not; either way the output reaches the
// log, health probes run, a stop's signal ends the container, a restart
// policy restarts it, and nothing is left once it is removed.
func TestMonitorWaits(t *testing.T) {
	without := t.TempDir()
	for _, name := range []string{"berth", "berth-monitor", "berth-init"} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(berthBin), name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(without, name), data, 0o755)
	}
	for _, c := range []struct{ bin, waiter string }{{berthBin, "berth-shim"}, {filepath.Join(without, "berth"), "berth-monitor"}} {
		t.Run(c.waiter, func(t *testing.T) {
			root, _ := busyboxRoot(t)
			run := func(args ...string) result {
				t.Helper()
				return berthVia(t, c.bin, t.TempDir(), nil, "", append([]string{"--root", root}, args...)...)
			}
			r := run("container", "run", "-d", "--init", "--health-cmd", "true", "--health-interval", "100ms", "bb:1", "sh", "-c", "echo hello; echo oops >&2; exec sleep 300")
			id := strings.TrimSpace(r.stdout)
			if r.code != 0 {
				t.Fatalf("run: %s", r.stderr)
			}
			for i := 0; run("container", "inspect", "-f", "{{.State.Health.Status}}", id).stdout != "healthy\n"; i++ {
				if i == 100 {
					t.Fatalf("never healthy: %s", run("container", "inspect", id).stdout)
				}
				time.Sleep(100 * time.Millisecond)
			}
			var st struct{ MonitorPid int }
			data, _ := os.ReadFile(filepath.Join(root, "containers", id, "state.json"))
			json.Unmarshal(data, &st)
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.MonitorPid)); filepath.Base(exe) != c.waiter {
				t.Errorf("the monitor waits as %q, want %s", exe, c.waiter)
			}
			if r := run("container", "logs", id); r.stdout != "hello\n" || r.stderr != "oops\n" {
				t.Errorf("logs: %q %q", r.stdout, r.stderr)
			}
			if r := run("container", "stop", id); r.code != 0 {
				t.Fatal(r.stderr)
			}
			if got := run("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id).stdout; got != "exited 143\n" {
				t.Errorf("after stop: %q", got)
			}
			run("container", "rm", id)
			// a restart policy across the waits: each run outlives the
			// monitor's first moments, so each is waited for apart
			r = run("container", "run", "-d", "--restart", "on-failure:2", "bb:1", "sh", "-c", "echo run; sleep 0.2; exit 3")
			id = strings.TrimSpace(r.stdout)
			if r := run("container", "wait", id); r.stdout != "3\n" {
				t.Errorf("wait: %q %q", r.stdout, r.stderr)
			}
			for i := 0; run("container", "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", id).stdout != "exited 2\n"; i++ {
				if i == 100 {
					t.Fatalf("after on-failure:2: %q", run("container", "inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", id).stdout)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if r := run("container", "logs", id); r.stdout != "run\nrun\nrun\n" {
				t.Errorf("logs of three runs: %q", r.stdout)
			}
			run("container", "rm", id)
			noLeftovers(t, root)
		})
	}
}

// TestMonitorKilled: with its monitor and the monitor's keeper killed by
// SIGKILL (so that nothing recovers it: TestMonitorKilledRecovered has the
// keeper's part), the next look at a container stops it and shows it
// exited, with nothing left behind.
func TestMonitorKilled(t *testing.T) {
	root, run := busyboxRoot(t)
	id := strings.TrimSpace(run("container", "run", "-d", "bb:1", "sh", "-c", "while :; do sleep 0.1; done").stdout)
	var st struct{ MonitorPid, Pid, Keeper int }
	data, _ := os.ReadFile(filepath.Join(root, "containers", id, "state.json"))
	json.Unmarshal(data, &st)
	if st.MonitorPid == 0 || st.Keeper == 0 {
		t.Fatalf("no monitor or keeper recorded: %s", data)
	}
	syscall.Kill(st.Keeper, syscall.SIGKILL)
	syscall.Kill(st.MonitorPid, syscall.SIGKILL)
	time.Sleep(100 * time.Millisecond) // let the kernel reap it; nothing to await here
	// nothing supervises it any more: the next look records it exited,
	// having stopped it, as Docker does when a shim dies
	if got := run("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}", id).stdout; !strings.HasPrefix(got, "exited 137 the container's monitor died") {
		t.Errorf("with its monitor dead: %q", got)
	}
	// gone, or a zombie its new parent has not reaped yet
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.Pid)); err == nil && !strings.Contains(string(stat), ") Z ") {
		t.Errorf("the container's process %d still runs: %s", st.Pid, stat)
	}
	if ps := run("container", "ps", "-q").stdout; ps != "" {
		t.Errorf("ps shows %q running", ps)
	}
	// and it can be started again, with a monitor of its own
	if r := run("container", "start", id); r.code != 0 {
		t.Errorf("start again: %q", r.stderr)
	}
	// a dead monitor's PID taken by another process (here a sleep of the
	// test's own) does not pass for the monitor
	data, _ = os.ReadFile(filepath.Join(root, "containers", id, "state.json"))
	json.Unmarshal(data, &st)
	impostor := exec.Command("sleep", "60")
	if err := impostor.Start(); err != nil {
		t.Fatal(err)
	}
	defer impostor.Process.Kill()
	syscall.Kill(st.Keeper, syscall.SIGKILL)
	syscall.Kill(st.MonitorPid, syscall.SIGKILL)
	time.Sleep(100 * time.Millisecond)
	os.WriteFile(filepath.Join(root, "containers", id, "state.json"),
		bytes.Replace(data, []byte(fmt.Sprintf(`"MonitorPid": %d`, st.MonitorPid)), []byte(fmt.Sprintf(`"MonitorPid": %d`, impostor.Process.Pid)), 1), 0o600)
	if got := run("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id).stdout; got != "exited 137\n" {
		t.Errorf("with its monitor's PID reused: %q", got)
	}
	if err := impostor.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the process that took the monitor's PID was signalled: %v", err)
	}
	run("container", "rm", id)
	noLeftovers(t, root)
}

// TestStdinAndTerminal: -i passes input, -t gives a real terminal with the
// caller's window size, for run and for exec. `script` (util-linux)
// provides the caller's terminal.
func TestStdinAndTerminal(t *testing.T) {
	root, run := busyboxRoot(t)
	dir := t.TempDir()
	if r := berth(t, dir, "some input\n", "--root", root, "container", "run", "--rm", "-i", "bb:1", "cat"); r.stdout != "some input\n" {
		t.Errorf("run -i cat: %q %q", r.stdout, r.stderr)
	}
	inTerminal := terminal(t, dir, root)
	if out := inTerminal(`container run --rm -t bb:1 sh -c 'tty; busybox stty size'`); !strings.Contains(out, "/dev/pts/0\n30 100\n") {
		t.Errorf("run -t: %q", out)
	}
	id := strings.TrimSpace(run("container", "run", "-d", "bb:1", "sh", "-c", "while :; do sleep 0.1; done").stdout)
	if r := berth(t, dir, "to exec\n", "--root", root, "container", "exec", "-i", id, "cat"); r.stdout != "to exec\n" {
		t.Errorf("exec -i cat: %q %q", r.stdout, r.stderr)
	}
	if out := inTerminal(`container exec -t ` + id + ` sh -c 'tty; busybox stty size; exit 3'`); !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "30 100") {
		t.Errorf("exec -t: %q", out)
	}
	if r := run("container", "exec", id, "sh", "-c", "exit 3"); r.code != 3 {
		t.Errorf("exec exit code %d, want 3", r.code)
	}
	if r := run("container", "exec", id, "nosuch"); r.code != 127 {
		t.Errorf("exec of a missing command: exit %d", r.code)
	}
	run("container", "pause", id)
	if r := run("container", "exec", id, "true"); r.code == 0 || !strings.Contains(r.stderr, "is paused") {
		t.Errorf("exec into a paused container: %d %q", r.code, r.stderr)
	}
	run("container", "unpause", id)
	run("container", "kill", id)
	run("container", "wait", id)
	if r := run("container", "exec", id, "true"); r.code != 1 || !strings.Contains(r.stderr, "is not running") {
		t.Errorf("exec into a stopped container: %d %q", r.code, r.stderr)
	}
	run("container", "rm", "-f", id)
	if r := run("container", "exec", id, "true"); r.code == 0 || !strings.Contains(r.stderr, "no such container") {
		t.Errorf("exec into a removed container: %d %q", r.code, r.stderr)
	}
	noLeftovers(t, root)
}

// TestRunOptions: the limits and options of run reach the container.
func TestRunOptions(t *testing.T) {
	root, run := busyboxRoot(t)
	envFile := filepath.Join(t.TempDir(), "app.env")
	os.WriteFile(envFile, []byte("# comment\nFROM_FILE=yes\nBOTH=file\n"), 0o644)
	r := run("container", "run", "--rm", "--ulimit", "nofile=512:1024", "--sysctl", "net.ipv4.ip_forward=1",
		"--shm-size", "8m", "--tmpfs", "/scratch:size=1m", "--device", "/dev/null:/dev/mynull", "--group-add", "nogroup",
		"--security-opt", "no-new-privileges", "--oom-score-adj", "100", "--env-file", envFile, "-e", "BOTH=flag", "-w", "/tmp", "-h", "named", "--domainname", "corp.test",
		"bb:1", "sh", "-c", `ulimit -n; ulimit -Hn; cat /proc/sys/net/ipv4/ip_forward; grep -o "/dev/shm tmpfs .*size=8192k" /proc/mounts;
		ls /dev/mynull; id -G; grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj; echo $FROM_FILE $BOTH; pwd; cat /etc/hostname; cat /proc/sys/kernel/domainname; hostname -d;
		head -c 2000000 /dev/zero > /scratch/f || echo tmpfs-full`)
	want := "512\n1024\n1\n/dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=8192k\n/dev/mynull\n0 65534\nNoNewPrivs:\t1\n100\nyes flag\n/tmp\nnamed\ncorp.test\ncorp.test\ntmpfs-full\n"
	if r.stdout != want {
		t.Errorf("got:\n%s\nwant:\n%s\nstderr: %s", r.stdout, want, r.stderr)
	}
	// Docker's namespaced defaults: any user binds a low port and pings;
	// not in the host's namespace; a --sysctl of the user's wins
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "0\n0\t2147483647\n"},
		{[]string{"--sysctl", "net.ipv4.ip_unprivileged_port_start=1024"}, "1024\n0\t2147483647\n"},
		{[]string{"--network", "host"}, hostSysctls(t)},
	} {
		args := append(append([]string{"container", "run", "--rm", "-u", "nobody"}, c.args...), "bb:1", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/net/ipv4/ping_group_range")
		if r := run(args...); r.stdout != c.want {
			t.Errorf("run %v: %q (%s); want %q", c.args, r.stdout, r.stderr, c.want)
		}
	}
	if r := run("container", "run", "--rm", "-u", "nobody", "--network", "none", "bb:1", "sh", "-c", "busybox nc -l -p 80 & sleep 0.3; kill $! && echo bound"); r.stdout != "bound\n" {
		t.Errorf("nobody binding :80: %q %q", r.stdout, r.stderr)
	}
	// an exec gets the container's limits too, as in Docker
	id := strings.TrimSpace(run("container", "run", "-d", "--network", "none", "--ulimit", "nofile=512:1024", "bb:1", "sleep", "60").stdout)
	if got := run("container", "exec", id, "sh", "-c", "ulimit -n; ulimit -Hn").stdout; got != "512\n1024\n" {
		t.Errorf("exec's nofile limits: %q", got)
	}
	run("container", "rm", "-f", id)
	for _, bad := range [][]string{{"--ulimit", "nofile=x"}, {"--tmpfs", "relative"}, {"--device", "/etc/passwd"}, {"--group-add", "ghosts"}, {"--restart", "sometimes"}, {"--rm", "--restart", "always"}} {
		if r := run(append(append([]string{"container", "run", "--rm"}, bad...), "bb:1", "true")...); r.code != 125 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("run %v: exit %d, stderr %q; want 125 and one line", bad, r.code, r.stderr)
		}
	}
	noLeftovers(t, root)
}

// TestExecGroups: an exec, with or without -u, has the supplementary
// groups of --group-add (compose's group_add), as the main process has
// them, as in Docker; so does a health probe.
func TestExecGroups(t *testing.T) {
	_, run := busyboxRoot(t)
	r := run("container", "run", "-d", "--network", "none", "-u", "nobody", "--group-add", "3000",
		"--health-cmd", "busybox grep Groups /proc/self/status > /tmp/probe-groups", "--health-interval", "200ms", "bb:1", "sleep", "60")
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	t.Cleanup(func() { run("container", "rm", "-f", id) })
	groups := func(args ...string) string {
		return run(append(append([]string{"container", "exec"}, args...), id, "busybox", "grep", "Groups", "/proc/self/status")...).stdout
	}
	want := "Groups:\t3000 \n"
	if got := run("container", "exec", id, "busybox", "grep", "Groups", "/proc/1/status").stdout; got != want {
		t.Errorf("the main process: %q; want %q", got, want)
	}
	if got := groups(); got != want {
		t.Errorf("exec: %q; want %q", got, want)
	}
	if got := groups("-u", "root"); got != want {
		t.Errorf("exec -u root: %q; want %q", got, want)
	}
	var probe string
	for range 50 {
		if probe = run("container", "exec", id, "cat", "/tmp/probe-groups").stdout; probe != "" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if probe != want {
		t.Errorf("a health probe: %q; want %q", probe, want)
	}
}

// hostSysctls are this machine's unprivileged port start and ping group
// range, as cat prints them.
func hostSysctls(t *testing.T) string {
	a, err1 := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	b, err2 := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(a) + string(b)
}

func TestTopAndStats(t *testing.T) {
	root, run := busyboxRoot(t)
	run("container", "run", "-d", "--name", "busy", "-m", "64m", "bb:1", "sh", "-c", "while :; do sleep 0.1; done")
	top := run("container", "top", "busy").stdout
	if lines := strings.Split(strings.TrimSpace(top), "\n"); len(lines) < 2 || !strings.Contains(lines[0], "PID") || !strings.Contains(top, "while :") {
		t.Errorf("top:\n%s", top)
	}
	if out := run("container", "top", "busy", "-o", "pid,comm").stdout; !regexp.MustCompile(`^PID +COMMAND\n`).MatchString(out) {
		t.Errorf("top -o pid,comm:\n%s", out)
	}
	stats := run("container", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "busy").stdout
	if !strings.HasPrefix(stats, "busy ") || !strings.Contains(stats, "/ 64MiB ") {
		t.Errorf("stats: %q", stats)
	}
	run("container", "stop", "-t", "1", "busy")
	if r := run("container", "top", "busy"); r.code == 0 || !strings.Contains(r.stderr, "is not running") {
		t.Errorf("top of a stopped container: %d %q", r.code, r.stderr)
	}
	run("container", "rm", "busy")
	noLeftovers(t, root)
}

// TestLogRotation: with max-size and max-file the log is rotated as
// Docker's json-file driver does, and logs reads across the files.
func TestLogRotation(t *testing.T) {
	root, run := busyboxRoot(t)
	run("container", "run", "--name", "chatty", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "bb:1", "sh", "-c", "for i in $(seq 200); do echo line $i; done")
	id := strings.TrimSpace(run("container", "inspect", "-f", "{{.Id}}", "chatty").stdout)
	files, _ := filepath.Glob(filepath.Join(root, "containers", id, id+"-json.log*"))
	if len(files) != 3 {
		t.Errorf("%d log files, want 3: %v", len(files), files)
	}
	for _, f := range files {
		if fi, _ := os.Stat(f); fi.Size() > 1024 {
			t.Errorf("%s is %d bytes, over max-size", f, fi.Size())
		}
	}
	logs := run("container", "logs", "chatty").stdout
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if lines[len(lines)-1] != "line 200" || len(lines) < 20 {
		t.Errorf("logs across rotated files: %d lines ending %q", len(lines), lines[len(lines)-1])
	}
	for i := 1; i < len(lines); i++ { // in order, no gap
		var a, b int
		fmt.Sscanf(lines[i-1], "line %d", &a)
		fmt.Sscanf(lines[i], "line %d", &b)
		if b != a+1 {
			t.Errorf("logs out of order at %q, %q", lines[i-1], lines[i])
			break
		}
	}
	// max-file without max-size: Docker's json-file takes it, and keeps
	// one file (TestOptionsAlike)
	if r := run("container", "run", "--rm", "--log-opt", "max-file=2", "bb:1", "true"); r.code != 0 {
		t.Errorf("max-file without max-size: exit %d, %s", r.code, r.stderr)
	}
	run("container", "rm", "chatty")
	noLeftovers(t, root)
}

// TestImageInUse: an image a container uses is not removed without -f, and
// with -f its layers stay until the container goes.
func TestImageInUse(t *testing.T) {
	root, run := busyboxRoot(t)
	run("container", "run", "-d", "--name", "user", "bb:1", "sh", "-c", "while :; do sleep 0.1; done")
	if r := run("image", "rm", "bb:1"); r.code == 0 || !strings.Contains(r.stderr, "in use by a container") {
		t.Errorf("image rm of an image in use: %d %q", r.code, r.stderr)
	}
	if r := run("image", "rm", "-f", "bb:1"); r.code != 0 {
		t.Errorf("image rm -f: %q", r.stderr)
	}
	if r := run("container", "exec", "user", "cat", "/etc/passwd"); r.code != 0 || !strings.Contains(r.stdout, "root:") {
		t.Errorf("the container lost its root filesystem: %d %q %q", r.code, r.stdout, r.stderr)
	}
	run("container", "rm", "-f", "user")
	run("image", "prune", "-a", "-f")
	if snaps, _ := os.ReadDir(filepath.Join(root, "snapshots")); len(snaps) != 0 {
		t.Errorf("snapshots left after the container and the image went: %d", len(snaps))
	}
	noLeftovers(t, root)
}

// TestCopy: cp both ways with docker cp's rules, running and stopped.
func TestCopy(t *testing.T) {
	root, run := busyboxRoot(t)
	host := t.TempDir()
	os.MkdirAll(filepath.Join(host, "in", "sub"), 0o755)
	os.WriteFile(filepath.Join(host, "in", "sub", "f"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(host, "in", "t"), []byte("top\n"), 0o600)
	run("container", "run", "-d", "--name", "box", "-u", "nobody", "bb:1", "sh", "-c", "while :; do sleep 0.1; done")
	for _, args := range [][]string{
		{"container", "cp", filepath.Join(host, "in"), "box:/tmp/"},              // a directory into a directory
		{"container", "cp", filepath.Join(host, "in", "t"), "box:/tmp/renamed"},  // a file under a new name
		{"container", "cp", filepath.Join(host, "in", "."), "box:/tmp/contents"}, // a directory's contents
	} {
		if r := run(args...); r.code != 0 {
			t.Fatalf("%v: %q", args, r.stderr)
		}
	}
	want := "65534\nhello\ntop\nsub t\n"
	if r := run("container", "exec", "box", "sh", "-c", "stat -c %u /tmp/in/sub/f; cat /tmp/in/sub/f /tmp/renamed; echo $(ls /tmp/contents)"); r.stdout != want {
		t.Errorf("in the container: %q, want %q (owned by the container's user)", r.stdout, want)
	}
	if r := run("container", "cp", "box:/tmp/in", filepath.Join(host, "back")); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(host, "back", "sub", "f")); string(data) != "hello\n" {
		t.Errorf("copied back: %q", data)
	}
	if r := run("container", "cp", "box:/nope", host); r.code == 0 || !strings.Contains(r.stderr, "could not find the file /nope") {
		t.Errorf("missing source: %d %q", r.code, r.stderr)
	}
	if r := run("container", "cp", filepath.Join(host, "in"), "box:/tmp/renamed"); r.code == 0 || !strings.Contains(r.stderr, "cannot copy a directory to a file") {
		t.Errorf("directory onto a file: %d %q", r.code, r.stderr)
	}
	run("container", "stop", "-t", "0", "box")
	if r := run("container", "cp", "box:/tmp/renamed", filepath.Join(host, "from-stopped")); r.code != 0 {
		t.Errorf("cp from a stopped container: %q", r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(host, "from-stopped")); string(data) != "top\n" {
		t.Errorf("from a stopped container: %q", data)
	}
	run("container", "rm", "box")
	noLeftovers(t, root)
}

// TestCommit: a container's additions, changes and deletions become a layer
// of a new image, with --change applied to its config.
func TestCommit(t *testing.T) {
	root, run := busyboxRoot(t)
	run("container", "run", "--name", "changer", "bb:1", "sh", "-c", "echo new > /tmp/added; rm /etc/group; mkdir -p /srv; echo v2 > /etc/passwd2")
	r := run("container", "commit", "-m", "my change", "-c", `CMD ["cat", "/tmp/added"]`, "changer", "committed:1")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "sha256:") {
		t.Fatalf("commit: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if out := run("container", "run", "--rm", "committed:1").stdout; out != "new\n" {
		t.Errorf("the committed CMD printed %q", out)
	}
	out := run("container", "run", "--rm", "committed:1", "sh", "-c", "ls /etc/group 2>&1; cat /etc/passwd2; ls -d /srv").stdout
	if !strings.Contains(out, "No such file") || !strings.Contains(out, "v2\n/srv\n") {
		t.Errorf("committed changes: %q (want /etc/group deleted, /etc/passwd2 and /srv added)", out)
	}
	if h := run("image", "history", "--format", "{{.Comment}}", "committed:1").stdout; !strings.HasPrefix(h, "my change\n") {
		t.Errorf("history: %q", h)
	}
	run("container", "rm", "changer")
	noLeftovers(t, root)
}

// TestAttach: attach streams a running container's output from now on,
// passes input to a container created with -i, and exits with its code.
func TestAttach(t *testing.T) {
	root, run := busyboxRoot(t)
	run("container", "run", "-d", "--name", "talker", "bb:1", "sh", "-c", "echo before; sleep 1; echo after; echo oops >&2; exit 6")
	// attach once "before" is in the log: it must not be streamed again
	for deadline := time.Now().Add(10 * time.Second); run("container", "logs", "talker").stdout != "before\n"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the container never wrote its first line")
		}
	}
	r := run("container", "attach", "talker")
	if r.code != 6 || r.stdout != "after\n" || r.stderr != "oops\n" {
		t.Errorf("attach: exit %d, stdout %q, stderr %q; want 6, after, oops", r.code, r.stdout, r.stderr)
	}
	if r := run("container", "attach", "talker"); r.code == 0 || !strings.Contains(r.stderr, "cannot attach to a stopped container") {
		t.Errorf("attach to a stopped container: %d %q", r.code, r.stderr)
	}
	run("container", "run", "-d", "-i", "--name", "reader", "bb:1", "sh", "-c", "read line; echo got $line; exit 4")
	if got := run("container", "inspect", "-f", "{{.State.Status}}", "reader").stdout; got != "running\n" {
		t.Errorf("run -d -i is %q: its input should stay open", got)
	}
	if r := berth(t, t.TempDir(), "hello\n", "--root", root, "container", "attach", "reader"); r.code != 4 || r.stdout != "got hello\n" {
		t.Errorf("attach with input: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	run("container", "rm", "-f", "talker", "reader")
	noLeftovers(t, root)
}

// TestSeccompDefault: the default profile refuses what it lists (here
// unshare, which needs no capability for a user namespace) and
// seccomp=unconfined lifts it.
func TestSeccompDefault(t *testing.T) {
	root, run := busyboxRoot(t)
	if r := run("container", "run", "--rm", "bb:1", "busybox", "unshare", "-U", "true"); r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("unshare under the default profile: exit %d, %q", r.code, r.stderr)
	}
	if r := run("container", "run", "--rm", "--security-opt", "seccomp=unconfined", "bb:1", "busybox", "unshare", "-U", "true"); r.code != 0 {
		t.Errorf("unshare unconfined: exit %d, %q", r.code, r.stderr)
	}
	if r := run("container", "run", "--rm", "bb:1", "sh", "-c", "grep Seccomp: /proc/self/status"); r.stdout != "Seccomp:\t2\n" {
		t.Errorf("seccomp mode %q, want 2 (filter)", r.stdout)
	}
	// --privileged: no filter, and every capability this host has (its
	// bounding set may lack some: "all" is what berth itself holds)
	own, _ := os.ReadFile("/proc/self/status")
	var bnd string
	for _, l := range strings.Split(string(own), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			bnd = strings.TrimSpace(v)
		}
	}
	if r := run("container", "run", "--rm", "--privileged", "bb:1", "sh", "-c", "grep -E 'Seccomp:|CapEff:' /proc/self/status"); r.stdout != "CapEff:\t"+bnd+"\nSeccomp:\t0\n" {
		t.Errorf("--privileged: exit %d, %q %q (host bounding set %s)", r.code, r.stdout, r.stderr, bnd)
	}
	// a profile of the user's own, in Docker's format, replaces the default
	dir := t.TempDir()
	profile := filepath.Join(dir, "no-mkdir.json")
	os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`), 0o644)
	r := run("container", "run", "--rm", "--security-opt", "seccomp="+profile, "bb:1", "sh", "-c", "mkdir /x; busybox unshare -U true && echo unshared")
	if !strings.Contains(r.stderr, "Operation not permitted") || r.stdout != "unshared\n" {
		t.Errorf("own profile: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"defaultAction": "SCMP_ACT_SOMETIMES"}`), 0o644)
	for _, file := range []string{bad, filepath.Join(dir, "missing.json")} {
		r := berth(t, dir, "", "--root", root, "container", "run", "--name", "refused", "--security-opt", "seccomp="+file, "bb:1", "true")
		if r.code != 125 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, file) {
			t.Errorf("profile %s: exit %d, %q", file, r.code, r.stderr)
		}
	}
	if ps := run("container", "ps", "-a", "-q").stdout; ps != "" {
		t.Errorf("a refused profile left containers: %q", ps)
	}
	noLeftovers(t, root)
}

// TestInit: with --init, berth-init is PID 1: it forwards the stop signal
// (sleep ends with SIGTERM's 143, not SIGKILL's 137 after the grace period)
// and reaps orphans, which a shell as PID 1 leaves as zombies.
func TestInit(t *testing.T) {
	root, run := busyboxRoot(t)
	if out := run("container", "run", "--rm", "--init", "bb:1", "cat", "/proc/1/cmdline").stdout; !strings.HasPrefix(out, "/sbin/docker-init\x00--\x00cat") {
		t.Errorf("PID 1 is %q", out)
	}
	run("container", "run", "-d", "--name", "sleeper", "--init", "bb:1", "sleep", "300")
	if r := run("container", "stop", "-t", "30", "sleeper"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if got := run("container", "inspect", "-f", "{{.State.ExitCode}}", "sleeper").stdout; got != "143\n" {
		t.Errorf("exit code %q after stop with --init, want 143 (SIGTERM reached sleep)", got)
	}
	// The shell leaves an orphan (the backgrounded sleep) and becomes a
	// sleep that never waits: the orphan's end goes to PID 1.
	orphan := []string{"sh", "-c", "(sleep 0.1 &); exec sleep 30"}
	states := func(name string) (zombies, sleeping int) {
		out := run("container", "exec", name, "sh", "-c", `for s in /proc/[0-9]*/status; do echo $(grep -E "^(Name|State)" $s); done`).stdout
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "(zombie)") {
				zombies++
			} else if strings.HasPrefix(l, "Name: sleep") {
				sleeping++
			}
		}
		return
	}
	for _, tc := range []struct {
		init        bool
		wantZombies int
	}{{false, 1}, {true, 0}} {
		name := fmt.Sprintf("orphans-init-%v", tc.init)
		args := []string{"container", "run", "-d", "--name", name}
		if tc.init {
			args = append(args, "--init")
		}
		run(append(append(args, "bb:1"), orphan...)...)
		var z int
		// the orphan ends after 0.1 s; wait for that, not for a figure
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			var sleeping int
			if z, sleeping = states(name); sleeping == 1 {
				break // only the long sleep is left alive
			}
		}
		if z != tc.wantZombies {
			t.Errorf("init %v: %d zombies once the orphan ended, want %d", tc.init, z, tc.wantZombies)
		}
		run("container", "rm", "-f", name)
	}
	run("container", "rm", "sleeper")
	noLeftovers(t, root)
}

// TestCreateStart: create then start -ai gives the container its input and
// returns its exit code.
func TestCreateStart(t *testing.T) {
	root, run := busyboxRoot(t)
	id := strings.TrimSpace(run("container", "create", "-i", "--name", "later", "bb:1", "sh", "-c", "read l; echo got $l; exit 5").stdout)
	if got := run("container", "inspect", "-f", "{{.State.Status}}", id).stdout; got != "created\n" {
		t.Errorf("after create: %q", got)
	}
	r := berth(t, t.TempDir(), "input\n", "--root", root, "container", "start", "-ai", "later")
	if r.code != 5 || r.stdout != "got input\n" {
		t.Errorf("start -ai: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	run("container", "rm", "later")
	noLeftovers(t, root)
}

// TestSystem: info counts what there is, df sizes it, prune removes what
// nothing uses (stopped containers, then dangling or all unused images,
// anonymous volumes only with --volumes).
func TestSystem(t *testing.T) {
	root, run := busyboxRoot(t)
	run("container", "run", "-d", "--name", "up", "bb:1", "sleep", "60")
	run("container", "run", "--name", "done", "-v", "/anon", "bb:1", "true")
	info := run("system", "info", "-f", "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}} {{.Volumes}} {{.Seccomp}}").stdout
	if info != "2 1 1 1 1 true\n" {
		t.Errorf("info: %q", info)
	}
	if df := run("system", "df").stdout; !strings.Contains(df, "Images ") || !strings.Contains(df, "Local Volumes ") {
		t.Errorf("df:\n%s", df)
	}
	if df := run("system", "df", "-v").stdout; !strings.Contains(df, "Local Volumes space usage:") || !strings.Contains(df, "\ndone ") && !strings.Contains(df, " done\n") {
		t.Errorf("df -v:\n%s", df)
	}
	out := run("system", "prune", "-f", "--volumes").stdout
	if !strings.Contains(out, "Deleted Containers:") || !strings.Contains(out, "Deleted Volumes:") || !strings.Contains(out, "Total reclaimed space:") {
		t.Errorf("prune:\n%s", out)
	}
	if got := run("system", "info", "-f", "{{.Containers}} {{.Images}} {{.Volumes}}").stdout; got != "1 1 0\n" {
		t.Errorf("after prune: %q (the running container and its image stay)", got)
	}
	run("container", "rm", "-f", "up")
	if r := run("system", "prune", "-a", "-f"); !strings.Contains(r.stdout, "deleted: sha256:") {
		t.Errorf("prune -a: %q", r.stdout)
	}
	noLeftovers(t, root)
}

// terminal returns a function that runs berth (with root) in dir on a
// terminal of 100 columns and 30 rows, through script(1), and returns what
// the terminal showed, without carriage returns. It skips the test where
// script is not installed.
func terminal(t *testing.T, dir, root string) func(args string) string {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) not installed")
	}
	return func(args string) string {
		t.Helper()
		cmd := exec.Command(script, "-qec", "stty cols 100 rows 30; "+berthBin+" --root "+root+" "+args, "/dev/null")
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader("")
		out, _ := cmd.CombinedOutput()
		return strings.ReplaceAll(string(out), "\r", "")
	}
}

// TestCopyRace: a container swaps a directory with a symlink to a host
// directory in a loop (renameat2 RENAME_EXCHANGE, the CVE-2018-15664
// attack) while cp copies into and out of that directory, hundreds of
// times: nothing lands in the host directory and nothing of it comes out.
// A volume mounted in the container is reached too, as docker cp reaches
// it.
func TestCopyRace(t *testing.T) {
	_, run := busyboxRoot(t)
	dir := t.TempDir()
	swap := filepath.Join(dir, "swap")
	build := exec.Command("go", "build", "-o", swap, "./testdata/swap")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the swapper: %v\n%s", err, out)
	}
	hostDir := filepath.Join(dir, "host")
	os.Mkdir(hostDir, 0o755)
	os.WriteFile(filepath.Join(hostDir, "secret"), []byte("host secret\n"), 0o644)
	script := "mkdir -p /w/dir && echo inside > /w/dir/secret && busybox ln -s " + hostDir + " /w/link && exec /swap /w/dir /w/link"
	if r := run("container", "run", "-d", "--name", "racer", "-v", swap+":/swap:ro", "-v", "racevol:/vol", "bb:1", "sh", "-c", script); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	t.Cleanup(func() { run("container", "rm", "-f", "racer"); run("volume", "rm", "racevol") })
	local := filepath.Join(dir, "payload")
	os.WriteFile(local, []byte("payload\n"), 0o644)
	in, out := 0, 0
	for i := range 200 {
		if r := run("container", "cp", local, fmt.Sprintf("racer:/w/dir/p%d", i)); r.code == 0 {
			in++
		}
		r := run("container", "cp", "racer:/w/dir/secret", "-")
		if strings.Contains(r.stdout, "host secret") {
			t.Fatalf("copy %d out of the container returned the host's file", i)
		}
		if strings.Contains(r.stdout, "inside") {
			out++
		}
	}
	entries, _ := os.ReadDir(hostDir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("copies into the container landed in the host directory: %v", names)
	}
	// the attack ran, and copies went through both ways all the same
	if in == 0 || out == 0 {
		t.Errorf("of 200 copies, %d went in and %d came out; want some of each", in, out)
	}
	t.Logf("of 200 copies each way, %d went in and %d came out, none outside", in, out)
	// a volume is part of the container's tree for cp
	if r := run("container", "cp", local, "racer:/vol/"); r.code != 0 {
		t.Fatalf("cp into a volume: %s", r.stderr)
	}
	if r := run("container", "exec", "racer", "cat", "/vol/payload"); r.stdout != "payload\n" {
		t.Errorf("the copy into the volume is not in the volume: %q %q", r.stdout, r.stderr)
	}
}
