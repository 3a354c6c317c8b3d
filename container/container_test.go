package container

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/shim"
)

func TestStateMachine(t *testing.T) {
	tests := []struct {
		from, to record.Status
		ok       bool
	}{
		{record.Created, record.Running, true}, {record.Running, record.Exited, true}, {record.Exited, record.Running, true}, {record.Running, record.Paused, true},
		{record.Paused, record.Running, true}, {record.Exited, record.Restarting, true}, {record.Restarting, record.Running, true}, {record.Exited, record.Removing, true},
		{record.Created, record.Paused, false}, {record.Exited, record.Paused, false}, {record.Removing, record.Running, false}, {record.Dead, record.Running, false},
	}
	for _, tc := range tests {
		st := record.State{Status: tc.from}
		err := st.To(tc.to)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrState)) {
			t.Errorf("%s -> %s: err = %v, want ok=%v", tc.from, tc.to, err, tc.ok)
		}
	}
}

func TestParseRestartAndSignal(t *testing.T) {
	for in, want := range map[string]record.RestartPolicy{
		"": {Name: "no"}, "always": {Name: "always"}, "on-failure": {Name: "on-failure"}, "on-failure:3": {Name: "on-failure", MaximumRetryCount: 3},
	} {
		if got, err := ParseRestart(in); err != nil || got != want {
			t.Errorf("ParseRestart(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"sometimes", "always:2", "on-failure:x", "on-failure:-1"} {
		if _, err := ParseRestart(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRestart(%q) accepted", bad)
		}
	}
	for in, want := range map[string]int{"SIGTERM": 15, "term": 15, "KILL": 9, "9": 9, "SIGUSR1": 10} {
		if got, err := ParseSignal(in); err != nil || int(got) != want {
			t.Errorf("ParseSignal(%q) = %d, %v", in, got, err)
		}
	}
	if _, err := ParseSignal("SIGNOPE"); !errors.Is(err, ErrInvalid) {
		t.Error("ParseSignal accepted SIGNOPE")
	}
}

func TestMergeEnv(t *testing.T) {
	t.Setenv("FROM_HOST", "h")
	got := mergeEnv([]string{"PATH=/image/bin", "A=image"}, []string{"A=user", "B=2", "FROM_HOST", "UNSET_THING"}, "box")
	want := []string{"PATH=/image/bin", "HOSTNAME=box", "A=user", "B=2", "FROM_HOST=h"}
	if !slices.Equal(got, want) {
		t.Errorf("env = %q, want %q", got, want)
	}
}

func TestResolveUser(t *testing.T) {
	layer := t.TempDir()
	os.MkdirAll(filepath.Join(layer, "etc"), 0o755)
	os.WriteFile(filepath.Join(layer, "etc", "passwd"), []byte("root:x:0:0::/:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(layer, "etc", "group"), []byte("root:x:0:\napp:x:1000:\nwheel:x:10:app,root\nstaff:x:50:app\n"), 0o644)
	lowers := []string{layer}
	tests := []struct {
		user     string
		uid, gid uint32
		groups   []uint32
		wantErr  bool
	}{
		{"", 0, 0, nil, false},
		{"app", 1000, 1000, []uint32{10, 50}, false},
		{"1000", 1000, 1000, []uint32{10, 50}, false},
		{"app:wheel", 1000, 10, nil, false}, // a named group: no others, as runc
		{"root", 0, 0, []uint32{10}, false},
		{"4242", 4242, 0, nil, false},
		{"4242:7", 4242, 7, nil, false},
		{"ghost", 0, 0, nil, true},
		{"app:nogroup", 0, 0, nil, true},
	}
	for _, tc := range tests {
		uid, gid, groups, err := resolveUser(lowers, tc.user)
		if (err != nil) != tc.wantErr || uid != tc.uid || gid != tc.gid || !slices.Equal(groups, tc.groups) {
			t.Errorf("resolveUser(%q) = %d %d %v %v", tc.user, uid, gid, groups, err)
		}
	}
}

func TestFilter(t *testing.T) {
	entries := []record.Entry{
		{Record: record.Record{ID: "aaa111", Name: "web-1", Image: "nginx:1", ImageID: "sha256:abc", Config: record.Config{Labels: map[string]string{"com.docker.compose.project": "shop", "tier": "front"}}}, State: record.State{Status: record.Running}},
		{Record: record.Record{ID: "bbb222", Name: "db-1", Image: "postgres", ImageID: "sha256:def", Config: record.Config{Labels: map[string]string{"com.docker.compose.project": "shop"}}}, State: record.State{Status: record.Exited, ExitCode: 3}},
		{Record: record.Record{ID: "ccc333", Name: "other", Image: "busybox", ImageID: "sha256:123"}, State: record.State{Status: record.Created}},
	}
	tests := []struct {
		filters []string
		want    string
	}{
		{nil, "web-1 db-1 other"},
		{[]string{"label=com.docker.compose.project=shop"}, "web-1 db-1"},
		{[]string{"label=com.docker.compose.project=shop", "label=tier"}, "web-1"},
		{[]string{"name=web"}, "web-1"},
		{[]string{"name=web", "name=db"}, "web-1 db-1"},
		{[]string{"status=exited"}, "db-1"},
		{[]string{"exited=3"}, "db-1"},
		{[]string{"id=ccc"}, "other"},
		{[]string{"ancestor=nginx:1"}, "web-1"},
		{[]string{"ancestor=def"}, "db-1"},
	}
	for _, tc := range tests {
		match, err := Filter(tc.filters)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			if match(e) {
				got = append(got, e.Record.Name)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%v: %v, want %s", tc.filters, got, tc.want)
		}
	}
	for _, bad := range []string{"nokey", "size=1", "exited=x"} {
		if _, err := Filter([]string{bad}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestRecordExit: the exit the waiting process records (shim.RecordExit)
// is the State the store reads: exited, with its code, time, OOM kill and
// no process, the rest (its endpoints, for whoever leaves them) kept; a
// state that no longer runs is left as it is.
func TestRecordExit(t *testing.T) {
	s, err := record.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rec := record.Record{ID: strings.Repeat("ab", 32), Name: "rx"}
	if err := s.Create(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	eps := map[string]record.Endpoint{"n": {NetworkID: "nid", Address: netip.MustParsePrefix("10.0.0.2/24")}}
	s.Update(ctx, rec.ID, func(st *record.State) error {
		st.Status, st.Pid, st.MonitorPid, st.Networks = record.Running, 42, 43, eps
		return nil
	})
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	recorded, halted, err := shim.RecordExit(ctx, s.Dir(rec.ID), 137, at, true, shim.Policy{})
	if err != nil || !recorded || halted {
		t.Fatalf("recorded %v, halted %v: %v", recorded, halted, err)
	}
	e, err := s.Get(rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	st := e.State
	if st.Status != record.Exited || st.ExitCode != 137 || st.Pid != 0 || !st.OOMKilled || !st.FinishedAt.Equal(at) || st.MonitorPid != 43 || st.Networks["n"] != eps["n"] {
		t.Errorf("recorded: %+v", st)
	}
	// exited already (the monitor recorded it, or a stop did): untouched
	if recorded, _, err := shim.RecordExit(ctx, s.Dir(rec.ID), 1, time.Now(), false, shim.Policy{}); err != nil || recorded {
		t.Fatalf("recorded %v over an exit: %v", recorded, err)
	}
	if e, _ := s.Get(rec.ID); e.State.ExitCode != 137 {
		t.Errorf("an exited state was recorded over: %+v", e.State)
	}
	// a halted one says so
	s.Update(ctx, rec.ID, func(st *record.State) error { st.Status, st.Halted = record.Running, true; return nil })
	if _, halted, err := shim.RecordExit(ctx, s.Dir(rec.ID), 0, time.Now(), false, shim.Policy{}); err != nil || !halted {
		t.Fatalf("halted %v: %v", halted, err)
	}
}

// TestRemoveWaitsForMonitor: removing an exited container whose monitor is
// still at work (its clean-up after the exit) waits for the monitor rather
// than pulling the directory from under it.
func TestRemoveWaitsForMonitor(t *testing.T) {
	fixture.RequireRoot(t, "the runtime's state under /run/berth")
	ctx := context.Background()
	root := t.TempDir()
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(monitor.RunDir(root))) })
	m, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &record.Record{ID: record.NewID(), Name: "exited"}
	if err := m.Store.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// a stand-in monitor, named on its command line as a monitor is
	mon := exec.Command("sh", "-c", "sleep 0.5", "__monitor", rec.ID)
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	defer mon.Wait()
	if _, err := m.Store.Update(ctx, rec.ID, func(st *record.State) error {
		st.Status, st.MonitorPid = record.Exited, mon.Process.Pid
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, rec.ID, false); err != nil {
		t.Fatal(err)
	}
	// not reaped until the deferred Wait: a zombie is a monitor that ended
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", mon.Process.Pid)); err != nil || !strings.Contains(string(stat), ") Z ") {
		t.Errorf("rm returned while the container's monitor still ran: %s", stat)
	}
	if _, err := os.Stat(m.Store.Dir(rec.ID)); !os.IsNotExist(err) {
		t.Errorf("the container's directory is still there: %v", err)
	}
}

func TestParseNetDev(t *testing.T) {
	dev := `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   98765      10    0    0    0     0          0         0    98765      10    0    0    0     0       0          0
  eth0:    1500      12    0    0    0     0          0         0      700       9    0    0    0     0       0          0
  eth1:     500       3    0    0    0     0          0         0      300       2    0    0    0     0       0          0
`
	if rx, tx := parseNetDev(dev); rx != 2000 || tx != 1000 {
		t.Errorf("rx %d, tx %d; want 2000 and 1000 (loopback left out)", rx, tx)
	}
	if rx, tx := parseNetDev("garbage\nno: counters\n"); rx != 0 || tx != 0 {
		t.Errorf("garbage read as %d/%d", rx, tx)
	}
}
