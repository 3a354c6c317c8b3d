package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	godbus "github.com/godbus/dbus/v5"

	"github.com/berth-dev/berth/internal/fixture"
)

// TestMonitorScope: where systemd is PID 1 a monitor goes to a transient
// scope in berth.slice that names its container and holds its process
// alone, which systemd collects once it ends and stops only at the end of
// a shutdown. (This machine has no systemd: the D-Bus call itself is not
// made here.)
func TestMonitorScope(t *testing.T) {
	id := strings.Repeat("ab", 32)
	if got := MonitorScope(id, 4242); got != "berth-monitor-abababababab-4242.scope" {
		t.Errorf("scope name %q", got)
	}
	props := map[string]any{}
	for _, p := range ScopeProperties(id, 4242) {
		props[p.Name] = p.Value.Value()
	}
	want := map[string]any{
		"Description":         "berth monitor of container " + id,
		"Slice":               "berth.slice",
		"PIDs":                []uint32{4242},
		"DefaultDependencies": false,
		"CollectMode":         "inactive-or-failed",
	}
	if fmt.Sprint(props) != fmt.Sprint(want) {
		t.Errorf("scope properties\n got %v\nwant %v", props, want)
	}
	// systemd reads each value by its D-Bus signature
	for _, p := range ScopeProperties(id, 4242) {
		if p.Name == "PIDs" && p.Value.Signature() != godbus.SignatureOf([]uint32{}) {
			t.Errorf("PIDs has signature %s", p.Value.Signature())
		}
	}
}

// TestPlaceCgroupfs: without systemd, a process is moved into berth's
// cgroup in every mounted hierarchy (here: each v1 controller,
// name=systemd and the unified one), cpuset's included, which takes no
// process before it has processors and memory nodes.
func TestPlaceCgroupfs(t *testing.T) {
	fixture.RequireRoot(t, "moving a process between cgroups")
	mounts, err := cgroupMounts()
	if err != nil || len(mounts) == 0 {
		t.Fatalf("cgroup mounts: %v %v", mounts, err)
	}
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/berth-test-place-%d/monitors", os.Getpid())
	t.Cleanup(func() {
		sleep.Process.Kill()
		sleep.Wait()
		for _, mnt := range mounts {
			os.Remove(filepath.Join(mnt, path))
			os.Remove(filepath.Dir(filepath.Join(mnt, path)))
		}
	})
	if err := placeCgroupfs(sleep.Process.Pid, path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", sleep.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(data))
	if len(lines) != len(mounts) {
		t.Errorf("%d hierarchies mounted, the process is in %d:\n%s", len(mounts), len(lines), data)
	}
	for _, line := range lines {
		if !strings.HasSuffix(line, ":"+path) {
			t.Errorf("not moved in every hierarchy:\n%s", data)
			break
		}
	}
	// a second placement, in the cgroup made already, works too
	if err := placeCgroupfs(sleep.Process.Pid, path); err != nil {
		t.Errorf("placing again: %v", err)
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := UnescapeMount(`/sys/fs/cgroup/a\040b`); got != "/sys/fs/cgroup/a b" {
		t.Errorf("%q", got)
	}
}
