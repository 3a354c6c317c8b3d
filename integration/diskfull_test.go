package integration

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/monitor"
)

// TestDiskFullExit: a container whose process ends while the root's disk
// is full (a small tmpfs as the root, filled up) is not shown running
// with a dead PID: inspect and ps say it exited, with its own exit code,
// which the monitor kept in memory (/run) since it could not write the
// state; once space is freed the next command records it.
func TestDiskFullExit(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static not installed (scripts/deps.sh installs it)")
	}
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=32m"); err != nil {
		t.Fatalf("mounting a tmpfs root: %v", err)
	}
	t.Cleanup(func() {
		unix.Unmount(root, unix.MNT_DETACH)
		os.RemoveAll(filepath.Dir(monitor.RunDir(root)))
	})
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755)
	data, _ := os.ReadFile("/bin/busybox")
	os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), data, 0o755)
	for _, a := range []string{"sh", "sleep", "true"} {
		os.Symlink("busybox", filepath.Join(rootfs, "bin", a))
	}
	run := func(args ...string) result {
		t.Helper()
		return berth(t, dir, "", append([]string{"--root", root}, args...)...)
	}
	if r := run("image", "import", rootfs, "bb:1"); r.code != 0 {
		t.Fatalf("import: %s", r.stderr)
	}
	t.Cleanup(func() { run("container", "rm", "-f", "full") })
	if r := run("container", "run", "-d", "--name", "full", "--network", "none", "--health-cmd", "true", "--health-interval", "100ms",
		"bb:1", "sh", "-c", "trap 'exit 7' USR1; while :; do sleep 0.1; done"); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	var out fixture.Buffer
	state := func() string {
		return strings.TrimSpace(run("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}", "full").stdout)
	}
	waitFor(t, &out, "a healthy container", func() bool {
		return strings.TrimSpace(run("container", "inspect", "-f", "{{.State.Health.Status}}", "full").stdout) == "healthy"
	})
	pid, _ := strconv.Atoi(strings.Fields(state())[2])
	// and one whose monitor dies with the disk full: berth stops it (137)
	t.Cleanup(func() { run("container", "rm", "-f", "orphan") })
	if r := run("container", "run", "-d", "--name", "orphan", "--network", "none", "bb:1", "sleep", "600"); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	orphanID := strings.TrimSpace(run("container", "inspect", "-f", "{{.Id}}", "orphan").stdout)
	filler := fill(t, root)
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		t.Fatalf("signalling the container's process: %v", err)
	}
	waitFor(t, &out, "the exit seen with the disk full", func() bool { return !strings.HasPrefix(state(), "running") })
	if got := state(); got != "exited 7 0" {
		t.Errorf("with the disk full: %q, want exited 7", got)
	}
	if ps := run("container", "ps", "-a").stdout; !strings.Contains(ps, "Exited (7)") || strings.Contains(ps, "healthy") {
		t.Errorf("ps with the disk full:\n%s", ps)
	}
	// its keeper first, so that no recovery monitor comes: the next
	// command finds the container unsupervised
	for _, role := range []string{"__keeper", "__monitor"} {
		for _, p := range processesNaming(orphanID) {
			cmdline, _ := os.ReadFile("/proc/" + p + "/cmdline")
			if strings.Contains(string(cmdline), role) {
				n, _ := strconv.Atoi(p)
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
	}
	orphan := func() string {
		return strings.TrimSpace(run("container", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "orphan").stdout)
	}
	waitFor(t, &out, "the unsupervised container seen stopped with the disk full", func() bool { return orphan() != "running 0" })
	if got := orphan(); got != "exited 137" {
		t.Errorf("a container whose monitor died, with the disk full: %q, want exited 137", got)
	}
	os.Remove(filler)
	if got := orphan(); got != "exited 137" {
		t.Errorf("a container whose monitor died, after space is freed: %q, want exited 137", got)
	}
	if got := state(); got != "exited 7 0" {
		t.Errorf("after space is freed: %q, want exited 7", got)
	}
	if msg := run("container", "inspect", "-f", "{{.State.Error}}", "full").stdout; strings.TrimSpace(msg) != "" {
		t.Errorf("after space is freed the exit is still not recorded: %q", msg)
	}
}

// fill writes a file into the file system at dir until it is full, and
// returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<16)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return path
		}
	}
}
