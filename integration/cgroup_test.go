package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// unifiedCgroup says whether this machine runs cgroup v2 alone, as most
// users' machines do and scripts/vm-test.sh's guest does.
func unifiedCgroup() bool {
	var fs unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC
}

// cgroupV2 returns where a cgroup v2 hierarchy is mounted on this machine
// and a berth that runs containers under it. On a machine that runs v2
// alone (most users' machines) that is berth itself. On one in hybrid mode,
// with v1 controllers and the v2 hierarchy at /sys/fs/cgroup/unified (as
// here and in CI), berth runs in a mount namespace of its own where that
// hierarchy is /sys/fs/cgroup, so libcontainer takes its v2 paths: cgroup
// directories, an eBPF program for the device rules, the v2 freezer. The
// monitors it starts stay in that namespace with it.
func cgroupV2(t *testing.T, root string) (string, func(args ...string) result) {
	t.Helper()
	isV2 := func(path string) bool {
		var fs unix.Statfs_t
		return unix.Statfs(path, &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC
	}
	dir := t.TempDir()
	if isV2("/sys/fs/cgroup") {
		return "/sys/fs/cgroup", func(args ...string) result {
			return berth(t, dir, "", append([]string{"--root", root}, args...)...)
		}
	}
	if !isV2("/sys/fs/cgroup/unified") {
		t.Skip("no cgroup v2 hierarchy on this machine")
	}
	wrapper := filepath.Join(dir, "berth-v2")
	script := "#!/bin/sh\nexec unshare --mount --propagation private sh -c 'mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup && exec \"$0\" \"$@\"' " + berthBin + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "/sys/fs/cgroup/unified", func(args ...string) result {
		return berthVia(t, wrapper, dir, nil, "", append([]string{"--root", root}, args...)...)
	}
}

// TestCgroupV2: a container under cgroup v2 gets a cgroup of its own with
// its processes in it, Docker's device rules (enforced by an eBPF program
// there), pause and unpause through cgroup.freeze, stats, top, a restart
// into a new cgroup, a stop while paused, and no cgroup left after rm. Limits need their controllers on
// v2: where the machine has them there, -m and --pids-limit are checked
// too.
func TestCgroupV2(t *testing.T) {
	root, _ := busyboxRoot(t)
	v2root, v2 := cgroupV2(t, root)
	r := v2("container", "run", "-d", "--network", "none", "bb:1", "sleep", "600")
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || len(id) != 64 {
		t.Fatalf("run -d: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	// the wrapper's view, not the test's, knows how to stop it
	t.Cleanup(func() { v2("container", "rm", "-f", id) })
	cg := filepath.Join(v2root, "berth", id)
	pid := strings.TrimSpace(v2("container", "inspect", "-f", "{{.State.Pid}}", id).stdout)
	if procs, err := os.ReadFile(filepath.Join(cg, "cgroup.procs")); err != nil || !strings.Contains("\n"+string(procs), "\n"+pid+"\n") {
		t.Errorf("the container's process %s is not in %s: %q, %v", pid, cg, procs, err)
	}
	// Docker's device rules: a block device can be made but not opened
	r = v2("container", "exec", id, "sh", "-c", "mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda")
	if r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("reading a block device: exit %d, %q", r.code, r.stderr)
	}
	if r := v2("container", "exec", id, "sh", "-c", "head -c 3 /dev/zero | wc -c"); strings.TrimSpace(r.stdout) != "3" {
		t.Errorf("reading /dev/zero: %q %q", r.stdout, r.stderr)
	}
	frozen := func() string {
		events, _ := os.ReadFile(filepath.Join(cg, "cgroup.events"))
		for _, line := range strings.Split(string(events), "\n") {
			if v, ok := strings.CutPrefix(line, "frozen "); ok {
				return v
			}
		}
		return "?"
	}
	v2("container", "pause", id)
	if got := frozen(); got != "1" {
		t.Errorf("after pause, cgroup.events says frozen %s", got)
	}
	if got := v2("container", "ps", "--format", "{{.Status}}").stdout; !strings.Contains(got, "(Paused)") {
		t.Errorf("ps of a paused container: %q", got)
	}
	v2("container", "unpause", id)
	if got := frozen(); got != "0" {
		t.Errorf("after unpause, cgroup.events says frozen %s", got)
	}
	if r := v2("container", "exec", id, "echo", "awake"); r.stdout != "awake\n" {
		t.Errorf("exec after unpause: %q %q", r.stdout, r.stderr)
	}
	if r := v2("container", "stats", "--no-stream", id); r.code != 0 || !strings.Contains(r.stdout, id[:12]) {
		t.Errorf("stats: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := v2("container", "top", id); !strings.Contains(r.stdout, "sleep 600") {
		t.Errorf("top, from the cgroup's processes: %q %q", r.stdout, r.stderr)
	}
	// a restart makes the cgroup again, with the new process in it
	if r := v2("container", "restart", "-t", "0", id); r.code != 0 {
		t.Errorf("restart: %q", r.stderr)
	}
	again := strings.TrimSpace(v2("container", "inspect", "-f", "{{.State.Pid}}", id).stdout)
	if procs, err := os.ReadFile(filepath.Join(cg, "cgroup.procs")); again == pid || err != nil || !strings.Contains("\n"+string(procs), "\n"+again+"\n") {
		t.Errorf("after restart, process %s (was %s) is not in %s: %q, %v", again, pid, cg, procs, err)
	}
	// a paused container is thawed to be stopped; sleep, as PID 1, ignores
	// SIGTERM and is killed after the grace period
	v2("container", "pause", id)
	if r := v2("container", "stop", "-t", "1", id); r.code != 0 {
		t.Errorf("stop while paused: exit %d, %q", r.code, r.stderr)
	}
	if got := v2("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id).stdout; got != "exited 137\n" {
		t.Errorf("after stop: %q", got)
	}
	if r := v2("container", "rm", id); r.code != 0 {
		t.Errorf("rm: %s", r.stderr)
	}
	if _, err := os.Stat(cg); !os.IsNotExist(err) {
		t.Errorf("%s is left after rm: %v", cg, err)
	}
	controllers, _ := os.ReadFile(filepath.Join(v2root, "cgroup.controllers"))
	if !strings.Contains(string(controllers), "memory") || !strings.Contains(string(controllers), "pids") {
		t.Logf("the v2 hierarchy here has no memory or pids controller (%q): limits are checked under v1 only", strings.TrimSpace(string(controllers)))
		return
	}
	// -m alone: memory+swap twice the memory, as Docker sets it, so swap
	// beyond the memory (v2's memory.swap.max) is the memory again and a
	// process over its limit is OOM-killed rather than swapping without end
	r = v2("container", "run", "-d", "--network", "none", "-m", "16m", "bb:1", "sleep", "600")
	if limited := strings.TrimSpace(r.stdout); r.code != 0 {
		t.Errorf("run -d -m 16m: exit %d, %q", r.code, r.stderr)
	} else {
		if got := v2("container", "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}", limited).stdout; got != "16777216 33554432\n" {
			t.Errorf("-m 16m: inspect says memory and memory+swap %q, want 16777216 33554432", got)
		}
		for file, want := range map[string]string{"memory.max": "16777216", "memory.swap.max": "16777216"} {
			if got, err := os.ReadFile(filepath.Join(v2root, "berth", limited, file)); strings.TrimSpace(string(got)) != want {
				t.Errorf("-m 16m: %s is %q, %v; want %s", file, got, err, want)
			}
		}
		v2("container", "rm", "-f", limited)
	}
	v2("container", "run", "--name", "hog", "--network", "none", "-m", "16m", "bb:1", "sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' x); echo survived")
	if got := v2("container", "inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog").stdout; got != "true 137\n" {
		t.Errorf("-m 16m allocation under v2: %q, want OOM-killed 137", got)
	}
	v2("container", "rm", "hog")
	r = v2("container", "run", "--rm", "--network", "none", "--pids-limit", "8", "bb:1", "sh", "-c", "for i in $(seq 30); do sleep 2 & done; wait")
	if !strings.Contains(r.stderr, "can't fork") && !strings.Contains(r.stderr, "Resource temporarily unavailable") {
		t.Errorf("--pids-limit 8 under v2 let 30 processes start: exit %d, %q", r.code, r.stderr)
	}
}

// TestCgroupV2DropsV1Settings: what only cgroup v1 has is dropped with
// Docker's warning (swappiness, turning the OOM killer off), so inspect
// says what the container got, or refused as Docker refuses it (real-time
// CPU time).
func TestCgroupV2DropsV1Settings(t *testing.T) {
	root, _ := busyboxRoot(t)
	_, v2 := cgroupV2(t, root)
	r := v2("container", "create", "--name", "knobs", "--network", "none", "--oom-kill-disable", "--memory-swappiness", "10", "bb:1", "true")
	if r.code != 0 {
		t.Fatalf("create: exit %d, %q", r.code, r.stderr)
	}
	t.Cleanup(func() { v2("container", "rm", "-f", "knobs") })
	for _, w := range []string{
		"WARNING: Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.\n",
		"WARNING: Your kernel does not support OomKillDisable. OomKillDisable discarded.\n",
	} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("create's warnings %q lack %q", r.stderr, w)
		}
	}
	if got := v2("container", "inspect", "-f", "{{.HostConfig.MemorySwappiness}} {{.HostConfig.OomKillDisable}}", "knobs").stdout; got != "<no value> false\n" {
		t.Errorf("inspect shows swappiness and OOM killer off %q, want <no value> false (null in the JSON)", got)
	}
	if r := v2("container", "start", "-a", "knobs"); r.code != 0 {
		t.Errorf("start: exit %d, %q", r.code, r.stderr)
	}
	for _, flag := range []string{"--cpu-rt-runtime", "--cpu-rt-period"} {
		r := v2("container", "run", "--rm", "--network", "none", flag, "950000", "bb:1", "true")
		if r.code != 125 || !strings.Contains(r.stderr, "Your kernel does not support CPU real-time scheduler") {
			t.Errorf("%s under cgroup v2: exit %d, %q; want refused", flag, r.code, r.stderr)
		}
	}
}

// TestPrivilegedCgroup: a privileged container has /sys and its cgroup
// writable, so it can make cgroups under its own (what systemd or a
// container engine inside does) and has the host's devices, as under
// Docker; an unprivileged one has both read-only and no host device.
func TestPrivilegedCgroup(t *testing.T) {
	root, _ := busyboxRoot(t)
	_, v2 := cgroupV2(t, root)
	// a block device of the host: a disk, not a loop or RAM device
	disk := ""
	blocks, _ := os.ReadDir("/sys/block")
	for _, b := range blocks {
		var st unix.Stat_t
		if n := b.Name(); !strings.HasPrefix(n, "loop") && !strings.HasPrefix(n, "ram") && unix.Stat("/dev/"+n, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
			disk = "/dev/" + n
			break
		}
	}
	const mounts = `awk '$2 == "/sys" || $2 == "/sys/fs/cgroup" {split($4, o, ","); print $2, o[1]}' /proc/mounts`
	script := mounts + `; mkdir /sys/fs/cgroup/child && sh -c 'echo $$ > /sys/fs/cgroup/child/cgroup.procs && grep ^0:: /proc/self/cgroup' && rmdir /sys/fs/cgroup/child; test -c /dev/kmsg && echo kmsg; test -b "$1" && echo disk`
	r := v2("container", "run", "--rm", "--network", "none", "--privileged", "bb:1", "sh", "-c", script, "sh", disk)
	want := "/sys rw\n/sys/fs/cgroup rw\n0::/child\nkmsg\n"
	if disk != "" {
		want += "disk\n"
	}
	if r.code != 0 || r.stdout != want {
		t.Errorf("--privileged (host disk %q): exit %d, %q %q; want %q", disk, r.code, r.stdout, r.stderr, want)
	}
	r = v2("container", "run", "--rm", "--network", "none", "bb:1", "sh", "-c", script, "sh", disk)
	if r.stdout != "/sys ro\n/sys/fs/cgroup ro\n" || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf("unprivileged: exit %d, %q %q; want /sys and the cgroup read-only, no kmsg, no disk", r.code, r.stdout, r.stderr)
	}
}
