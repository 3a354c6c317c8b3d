package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// monitorState is what the tests read of a container's state file.
type monitorState struct {
	Status                  string
	Pid, MonitorPid, Keeper int
	ExitCode, RestartCount  int
	Error                   string
}

// readState reads container id's state file under root, as berth wrote
// it, without running berth.
func readState(t *testing.T, root, id string) monitorState {
	t.Helper()
	var st monitorState
	data, err := os.ReadFile(filepath.Join(root, "containers", id, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// gone reports whether process pid has ended: no such process, or a
// zombie its parent has not reaped yet.
func gone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || strings.HasPrefix(s[i+1:], " Z") || strings.HasPrefix(s[i+1:], " X")
}

// within polls cond every 20 ms until it holds, or fails the test after d
// with what it last saw.
func within(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last saw %s", what, d, saw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMonitorKilledRecovered: a container whose monitor (waiting as
// berth-shim) is killed with SIGKILL is dealt with at once by the
// monitor's keeper, without any berth command, as Docker deals with a
// container whose shim died: the container's process is killed, the exit
// recorded as 137, and the restart policy applied: always, unless-stopped
// and on-failure run it again (a new process, RestartCount 1), no leaves
// it exited. A stop afterwards is not undone by the keeper.
func TestMonitorKilledRecovered(t *testing.T) {
	root, run := busyboxRoot(t)
	for _, policy := range []string{"always", "unless-stopped", "on-failure", "no"} {
		t.Run(policy, func(t *testing.T) {
			r := run("container", "run", "-d", "--restart", policy, "bb:1", "sh", "-c", "echo run; exec sleep 300")
			id := strings.TrimSpace(r.stdout)
			if r.code != 0 {
				t.Fatalf("run: %s", r.stderr)
			}
			defer run("container", "rm", "-f", id)
			// once it waits as berth-shim, the monitor's longest state,
			// and has logged the first run's output (what a dead monitor
			// had not read yet is lost with it, as with Docker's shim)
			var st monitorState
			within(t, 10*time.Second, "the monitor waiting as berth-shim", func() (bool, string) {
				st = readState(t, root, id)
				exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.MonitorPid))
				raw, _ := os.ReadFile(filepath.Join(root, "containers", id, id+"-json.log"))
				return filepath.Base(exe) == "berth-shim" && strings.Contains(string(raw), "run"), exe
			})
			if st.Keeper == 0 || gone(st.Keeper) {
				t.Fatalf("no live keeper recorded: %+v", st)
			}
			if err := syscall.Kill(st.MonitorPid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			// no berth command from here until the outcome is seen
			within(t, 10*time.Second, "the container's old process gone", func() (bool, string) {
				return gone(st.Pid), fmt.Sprintf("process %d", st.Pid)
			})
			var now monitorState
			if policy == "no" {
				within(t, 10*time.Second, "the exit recorded", func() (bool, string) {
					now = readState(t, root, id)
					return now.Status == "exited", fmt.Sprintf("%+v", now)
				})
				if now.ExitCode != 137 || !strings.Contains(now.Error, "monitor died") || now.RestartCount != 0 {
					t.Errorf("recorded: exit %d, %q, %d restarts; want 137, the monitor's death, 0", now.ExitCode, now.Error, now.RestartCount)
				}
				if got := run("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", id).stdout; got != "exited 137 0\n" {
					t.Errorf("inspect: %q", got)
				}
				if ps := run("container", "ps", "-q").stdout; ps != "" {
					t.Errorf("ps shows %q running", ps)
				}
				return
			}
			within(t, 10*time.Second, "the container running again", func() (bool, string) {
				now = readState(t, root, id)
				return now.Status == "running" && now.Pid != st.Pid && now.Pid != 0 && !gone(now.Pid), fmt.Sprintf("%+v", now)
			})
			if now.RestartCount != 1 || now.MonitorPid == st.MonitorPid || gone(now.MonitorPid) {
				t.Errorf("after the recovery: %d restarts, monitor %d (was %d); want 1 and a live new one", now.RestartCount, now.MonitorPid, st.MonitorPid)
			}
			if got := run("container", "inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.Pid}}", id).stdout; got != fmt.Sprintf("running 1 %d\n", now.Pid) {
				t.Errorf("inspect: %q, want running 1 %d", got, now.Pid)
			}
			within(t, 10*time.Second, "the second run's output in the log", func() (bool, string) {
				logs := run("container", "logs", id).stdout
				raw, _ := os.ReadFile(filepath.Join(root, "containers", id, id+"-json.log"))
				return logs == "run\nrun\n", logs + " / " + string(raw)
			})
			// the recovery monitor is the container's monitor now: a
			// stop ends it for good, the keeper restarts nothing
			if r := run("container", "stop", "-t", "1", id); r.code != 0 {
				t.Fatalf("stop: %s", r.stderr)
			}
			time.Sleep(300 * time.Millisecond) // a restart would be under way by now
			if got := run("container", "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", id).stdout; got != "exited 1\n" {
				t.Errorf("after the stop: %q", got)
			}
			if !gone(now.Keeper) {
				t.Errorf("the keeper %d outlives its stopped container", now.Keeper)
			}
		})
	}
	noLeftovers(t, root)
}

// testCgroup is a cgroup the test made in every mounted hierarchy (each v1
// controller, name=systemd and the unified one on a hybrid machine; the
// one on cgroup v2), standing for a systemd unit or a login session.
type testCgroup []string

// newTestCgroup makes a fresh cgroup named name in every hierarchy; the
// test's end kills what is left in it and removes it.
func newTestCgroup(t *testing.T, name string) testCgroup {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cg testCgroup
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, _ := strings.Cut(sc.Text(), " - ")
		fields, after := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(after) < 3 || (after[0] != "cgroup" && after[0] != "cgroup2") || seen[after[0]+after[2]] {
			continue
		}
		seen[after[0]+after[2]] = true
		dir := filepath.Join(fields[4], name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cg = append(cg, dir)
		// a v1 cpuset takes no process until it has processors and
		// memory nodes
		for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
			if data, err := os.ReadFile(filepath.Join(fields[4], file)); err == nil && !strings.Contains(after[0], "2") {
				os.WriteFile(filepath.Join(dir, file), data, 0o644)
			}
		}
	}
	t.Cleanup(func() {
		cg.kill()
		for _, dir := range cg {
			for i := 0; os.Remove(dir) != nil && i < 100; i++ {
				time.Sleep(20 * time.Millisecond) // the last processes on their way out
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("cgroup %s left", dir)
			}
		}
	})
	if len(cg) == 0 {
		t.Fatal("no cgroup hierarchy mounted")
	}
	return cg
}

// procs are the processes in the cgroup, in any of its hierarchies.
func (cg testCgroup) procs() []int {
	var pids []int
	seen := map[int]bool{}
	for _, dir := range cg {
		data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// kill kills every process of the cgroup, as systemd stops a unit or ends
// a session: cgroup.kill where the kernel has it (v2), else SIGKILL to
// each process listed; until none is left.
func (cg testCgroup) kill() {
	for i := 0; i < 100 && len(cg.procs()) > 0; i++ {
		for _, dir := range cg {
			os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0o644)
		}
		for _, pid := range cg.procs() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// command is berth run with args inside the cgroup: a shell moves itself
// into it in every hierarchy, then execs berth, so berth and all it
// starts begin there, as under a systemd unit.
func (cg testCgroup) command(t *testing.T, dir, root string, args ...string) *exec.Cmd {
	var move strings.Builder
	for _, d := range cg {
		fmt.Fprintf(&move, "echo $$ > %s/cgroup.procs && ", d)
	}
	cmd := exec.Command("sh", append([]string{"-c", move.String() + `exec "$0" "$@"`, berthBin, "--root", root}, args...)...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COMPOSE_") && !strings.HasPrefix(kv, "BERTH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PWD="+dir)
	return cmd
}

// TestCallerCgroupKilled: `up -d` run inside a cgroup (a systemd unit, a
// login session) whose every process is then killed leaves the project's
// containers running and supervised: the same processes, health checks
// still probing, ps true, and a monitor that still records their exit.
func TestCallerCgroupKilled(t *testing.T) {
	dir, root, compose := composeRoot(t, `name: unit
services:
  web:
    image: bb:1
    command: ["sleep", "300"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 200ms
  worker:
    image: bb:1
    command: ["sleep", "300"]
    restart: always
`)
	cg := newTestCgroup(t, fmt.Sprintf("berth-test-unit-%d", os.Getpid()))
	// the unit's own long-lived process, which its stop kills too
	unit := cg.command(t, dir, root, "up", "-d", "--wait")
	if out, err := unit.CombinedOutput(); err != nil {
		t.Fatalf("up -d in the cgroup: %v\n%s", err, out)
	}
	sleeper := exec.Command("sh", "-c", fmt.Sprintf("echo $$ > %s/cgroup.procs && exec sleep 300", cg[0]))
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Process.Kill()
	ids := strings.Fields(compose("ps", "-q").stdout)
	if len(ids) != 2 {
		t.Fatalf("ps -q after up: %v", ids)
	}
	before := map[string]monitorState{}
	for _, id := range ids {
		before[id] = readState(t, root, id)
	}
	// nothing of berth's stays in the caller's cgroup
	for _, pid := range cg.procs() {
		if pid != sleeper.Process.Pid {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			t.Errorf("process %d (%s) stayed in the caller's cgroup", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	// where the monitors went: a scope of systemd's where it is PID 1 (a
	// cgroup made behind its back would be taken back by it), else
	// berth's own cgroup
	want := "/berth/monitors"
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		want = "/berth.slice/berth-monitor-"
	}
	for id, st := range before {
		for _, pid := range []int{st.Keeper, st.MonitorPid} {
			cgs, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
			if !strings.Contains(string(cgs), want) {
				t.Errorf("container %s: process %d is not in %s*:\n%s", id[:12], pid, want, cgs)
			}
		}
	}
	killed := time.Now().UTC()
	cg.kill()
	if err := sleeper.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("the unit's own process was not killed: %v", err)
	}
	// supervised still: health probes recorded after the kill, the same
	// processes, monitors and keepers
	within(t, 10*time.Second, "a health probe after the kill", func() (bool, string) {
		var h struct {
			Status string
			Log    []struct{ Start time.Time }
		}
		out := compose("container", "inspect", "-f", "{{json .State.Health}}", "unit-web-1")
		if err := json.Unmarshal([]byte(out.stdout), &h); err != nil || len(h.Log) == 0 {
			return false, out.stdout + out.stderr
		}
		return h.Status == "healthy" && h.Log[len(h.Log)-1].Start.After(killed), out.stdout
	})
	for id, was := range before {
		now := readState(t, root, id)
		if now.Status != "running" || now.Pid != was.Pid || now.RestartCount != 0 || gone(now.Pid) || gone(now.MonitorPid) || gone(now.Keeper) {
			t.Errorf("container %s after the kill: %+v; before: %+v", id[:12], now, was)
		}
	}
	if ps := compose("ps", "--format", "{{.Service}} {{.State}}").stdout; ps != "web running\nworker running\n" {
		t.Errorf("ps after the kill: %q", ps)
	}
	// its monitor still records an exit: the worker's process ends, and
	// comes back by its policy
	workerPid := strings.TrimSpace(compose("container", "inspect", "-f", "{{.State.Pid}}", "unit-worker-1").stdout)
	pid, _ := strconv.Atoi(workerPid)
	if pid == 0 {
		t.Fatalf("the worker's process: %q", workerPid)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	within(t, 10*time.Second, "the worker restarted by its monitor", func() (bool, string) {
		r := compose("container", "inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}} {{.State.Pid}}", "unit-worker-1").stdout
		return strings.HasPrefix(r, "running 1 ") && !strings.HasSuffix(r, " "+workerPid+"\n"), r
	})
	if r := compose("down", "-t", "0"); r.code != 0 {
		t.Errorf("down: %s", r.stderr)
	}
	if pids := cg.procs(); len(pids) > 0 {
		t.Errorf("processes in the caller's cgroup after down: %v", pids)
	}
	noLeftovers(t, root)
}
