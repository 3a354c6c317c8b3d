package container

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
)

// TestRestorable: what system boot starts again, by restart policy and by
// what the last run was, as Docker's daemon decides at its start.
func TestRestorable(t *testing.T) {
	if monitor.BootID() == "" {
		t.Skip("the kernel gives no boot ID here")
	}
	before := "00000000-0000-4000-8000-000000000000"
	started := time.Now().Add(-time.Hour)
	exited := func(policy string, max int, st record.State) record.Entry {
		st.Status, st.StartedAt = record.Exited, started
		if st.BootID == "" {
			st.BootID = before
		}
		return record.Entry{Record: record.Record{ID: "c", Host: record.HostConfig{RestartPolicy: record.RestartPolicy{Name: policy, MaximumRetryCount: max}}}, State: st}
	}
	for _, c := range []struct {
		name string
		e    record.Entry
		want bool
	}{
		{"always, stopped by the reboot", exited("always", 0, record.State{Rebooted: true}), true},
		{"always, stopped by hand before", exited("always", 0, record.State{StopRequested: true}), true},
		{"unless-stopped, stopped by the reboot", exited("unless-stopped", 0, record.State{Rebooted: true}), true},
		{"unless-stopped, stopped by hand", exited("unless-stopped", 0, record.State{StopRequested: true}), false},
		{"on-failure, stopped by the reboot", exited("on-failure", 0, record.State{Rebooted: true, ExitCode: 255}), true},
		{"on-failure, ended before", exited("on-failure", 0, record.State{ExitCode: 0}), false},
		{"on-failure, gave up before", exited("on-failure", 3, record.State{ExitCode: 1, RestartCount: 3}), false},
		{"on-failure:3, stopped by the reboot on its 3rd retry", exited("on-failure", 3, record.State{Rebooted: true, RestartCount: 3}), false},
		{"on-failure:3, stopped by the reboot on its 2nd retry", exited("on-failure", 3, record.State{Rebooted: true, RestartCount: 2}), true},
		{"no, stopped by the reboot", exited("no", 0, record.State{Rebooted: true}), false},
		{"always, run in this boot (restored, then stopped by hand)", exited("always", 0, record.State{BootID: monitor.BootID(), StopRequested: true}), false},
		{"always, never started", record.Entry{Record: record.Record{Host: record.HostConfig{RestartPolicy: record.RestartPolicy{Name: "always"}}}, State: record.State{Status: record.Created}}, false},
		{"always, running", record.Entry{Record: record.Record{Host: record.HostConfig{RestartPolicy: record.RestartPolicy{Name: "always"}}}, State: record.State{Status: record.Running, BootID: monitor.BootID()}}, false},
	} {
		if got := Restorable(c.e); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	rm := exited("no", 0, record.State{Rebooted: true})
	rm.Record.Host.AutoRemove = true
	if Restorable(rm) || !RemovableAtBoot(rm) {
		t.Errorf("--rm stopped by the reboot: restorable %v, removable %v", Restorable(rm), RemovableAtBoot(rm))
	}
}

// TestRebootedState: a state that says running, from another boot, is
// recorded exited (255) by the reboot, and its PIDs, which now name a
// process of the test's with the very start time recorded, are neither
// signalled nor taken for its monitor; the same state from this boot
// is that live monitor's.
func TestRebootedState(t *testing.T) {
	if monitor.BootID() == "" {
		t.Skip("the kernel gives no boot ID here")
	}
	ctx := context.Background()
	root := t.TempDir()
	m, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	// the runtime's directory for the root, which a refresh makes
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(monitor.RunDir(root))) })
	other := exec.Command("sleep", "100")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	start, err := runtime.StartTime(other.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	rec := &record.Record{ID: record.NewID(), Name: "rebooted", Created: time.Now()}
	if err := m.Store.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	running := record.State{Status: record.Running, Pid: other.Process.Pid, MonitorPid: other.Process.Pid, MonitorStart: start,
		StartedAt: time.Now().Add(-time.Minute), BootID: monitor.BootID()}
	set := func(st record.State) {
		if _, err := m.Store.Update(ctx, rec.ID, func(s *record.State) error { *s = st; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	set(running)
	if e, err := m.Get(ctx, rec.ID); err != nil || e.State.Status != record.Running || !monitor.Of(e.State, rec.ID) {
		t.Fatalf("this boot's running state: %+v, %v", e.State, err)
	}
	running.BootID = "00000000-0000-4000-8000-000000000000"
	set(running)
	if monitor.Of(running, rec.ID) {
		t.Error("another boot's monitor PID taken for a live monitor")
	}
	e, err := m.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st := e.State; st.Status != record.Exited || st.ExitCode != 255 || !st.Rebooted || st.Pid != 0 || st.MonitorPid != 0 || st.Error != "" {
		t.Errorf("after the reboot: %+v", st)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(other.Process.Pid)); err != nil || !monitor.Alive(other.Process.Pid) {
		t.Error("the process the stale PIDs named was signalled")
	}
	if err := m.Remove(ctx, rec.ID, false); err != nil {
		t.Errorf("rm after the reboot: %v", err)
	}
}
