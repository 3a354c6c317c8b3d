package monitor

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/berth-dev/berth/record"
)

// newStateStore is a store in a temporary directory with one container
// whose state is st.
func newStateStore(t *testing.T, st record.State) (*record.Store, string) {
	t.Helper()
	s, err := record.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := record.Record{ID: record.NewID(), Name: "c" + record.NewID()[:8]}
	if err := s.Create(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(context.Background(), rec.ID, func(s *record.State) error { *s = st; return nil }); err != nil {
		t.Fatal(err)
	}
	return s, rec.ID
}

func stateOf(t *testing.T, s *record.Store, id string) record.State {
	t.Helper()
	e, err := s.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	return e.State
}

// TestMonitorRecordExit: the monitor records the exit of a run that still
// shows as running; an exit the waiting process recorded first (exited,
// or restarting) stands as it is, and the monitor only takes the
// endpoints, to leave them; a state with no run to end (being removed)
// and a container that is gone are errors, not exits silently dropped.
func TestMonitorRecordExit(t *testing.T) {
	ctx := context.Background()
	eps := map[string]record.Endpoint{"n": {NetworkID: "nid", HostIf: "veth1", Address: netip.MustParsePrefix("10.0.0.2/24")}}
	first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	later := first.Add(time.Second)
	cgroup := "/berth/none-" + record.NewID()
	always := record.RestartPolicy{Name: "always"}

	t.Run("running", func(t *testing.T) {
		s, id := newStateStore(t, record.State{Status: record.Running, Pid: 42, Networks: eps})
		got, err := recordExit(ctx, s, id, cgroup, 3, first, record.RestartPolicy{})
		if err != nil || got["n"] != eps["n"] {
			t.Fatalf("endpoints %v: %v", got, err)
		}
		st := stateOf(t, s, id)
		if st.Status != record.Exited || st.ExitCode != 3 || !st.FinishedAt.Equal(first) || st.Pid != 0 || st.Networks != nil {
			t.Errorf("recorded: %+v", st)
		}
	})
	t.Run("running, restarted by its policy", func(t *testing.T) {
		s, id := newStateStore(t, record.State{Status: record.Running, Pid: 42})
		if _, err := recordExit(ctx, s, id, cgroup, 1, first, always); err != nil {
			t.Fatal(err)
		}
		if st := stateOf(t, s, id); st.Status != record.Restarting || st.ExitCode != 1 {
			t.Errorf("recorded: %+v", st)
		}
	})
	for _, status := range []record.Status{record.Exited, record.Restarting} {
		t.Run("recorded already as "+string(status), func(t *testing.T) {
			s, id := newStateStore(t, record.State{Status: status, ExitCode: 137, FinishedAt: first, OOMKilled: true, Networks: eps})
			got, err := recordExit(ctx, s, id, cgroup, 1, later, always)
			if err != nil || got["n"] != eps["n"] {
				t.Fatalf("endpoints %v: %v", got, err)
			}
			st := stateOf(t, s, id)
			if st.Status != status || st.ExitCode != 137 || !st.FinishedAt.Equal(first) || !st.OOMKilled || st.Networks != nil {
				t.Errorf("the recorded exit was changed: %+v", st)
			}
		})
	}
	t.Run("removing", func(t *testing.T) {
		s, id := newStateStore(t, record.State{Status: record.Removing, Networks: eps})
		got, err := recordExit(ctx, s, id, cgroup, 1, later, record.RestartPolicy{})
		if !errors.Is(err, record.ErrState) || got != nil {
			t.Fatalf("endpoints %v, err %v; want the state machine's error", got, err)
		}
		if st := stateOf(t, s, id); st.Status != record.Removing || st.Networks["n"] != eps["n"] {
			t.Errorf("state changed: %+v", st)
		}
	})
	t.Run("gone", func(t *testing.T) {
		s, id := newStateStore(t, record.State{Status: record.Running})
		if err := s.Delete(id); err != nil {
			t.Fatal(err)
		}
		if _, err := recordExit(ctx, s, id, cgroup, 1, later, record.RestartPolicy{}); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("err = %v, want not found", err)
		}
	})
}

// TestRestartDecision: between two runs the monitor moves the state only
// along the lifecycle: a stop since the exit turns restarting to exited,
// the recovery monitor's exited (reclaim's) goes to restarting when the
// policy restarts it, and a container being removed meanwhile is an
// error that ends the monitor's loop, not a restart.
func TestRestartDecision(t *testing.T) {
	ctx := context.Background()
	always := record.RestartPolicy{Name: "always"}
	no := record.RestartPolicy{Name: "no"}
	for _, tc := range []struct {
		name    string
		from    record.State
		policy  record.RestartPolicy
		restart bool
		to      record.Status
		err     error
	}{
		{"restarting, stopped since", record.State{Status: record.Restarting, StopRequested: true}, always, false, record.Exited, nil},
		{"restarting", record.State{Status: record.Restarting}, always, true, record.Restarting, nil},
		{"exited, recovered", record.State{Status: record.Exited, ExitCode: 137}, always, true, record.Restarting, nil},
		{"exited, no policy", record.State{Status: record.Exited}, no, false, record.Exited, nil},
		{"removing", record.State{Status: record.Removing}, always, false, record.Removing, record.ErrState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, id := newStateStore(t, tc.from)
			restart, err := nextRun(ctx, s, id, tc.policy, 1)
			if restart != tc.restart || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("restart %v, err %v; want %v, %v", restart, err, tc.restart, tc.err)
			}
			if st := stateOf(t, s, id); st.Status != tc.to {
				t.Errorf("status %s, want %s", st.Status, tc.to)
			}
		})
	}
	// after the back-off: a stop meanwhile ends it, exited; else one
	// restart more
	s, id := newStateStore(t, record.State{Status: record.Restarting, RestartCount: 2})
	if restart, err := afterBackoff(ctx, s, id); err != nil || !restart {
		t.Fatalf("restart %v: %v", restart, err)
	}
	if st := stateOf(t, s, id); st.Status != record.Restarting || st.RestartCount != 3 {
		t.Errorf("after the back-off: %+v", st)
	}
	for _, from := range []record.Status{record.Restarting, record.Exited} {
		s, id := newStateStore(t, record.State{Status: from, StopRequested: true, RestartCount: 2})
		if restart, err := afterBackoff(ctx, s, id); err != nil || restart {
			t.Fatalf("%s, stopped: restart %v: %v", from, restart, err)
		}
		if st := stateOf(t, s, id); st.Status != record.Exited || st.RestartCount != 2 {
			t.Errorf("%s, stopped: %+v", from, st)
		}
	}
}

// TestStartFailed: a start that fails leaves the container exited with
// the failure's code and error, whether it was created or had exited
// before (exited -> exited is no transition: it stays exited); a
// container being removed meanwhile is the state machine's error.
func TestStartFailed(t *testing.T) {
	cause := errors.New(`exec: "nope": executable file not found in $PATH`)
	for _, from := range []record.Status{record.Created, record.Exited, record.Restarting} {
		st := record.State{Status: from, ExitCode: 0, Pid: 9}
		if err := startFailed(&st, ExitNotFound, cause); err != nil {
			t.Fatalf("from %s: %v", from, err)
		}
		if st.Status != record.Exited || st.ExitCode != ExitNotFound || st.Error != cause.Error() || st.Pid != 0 || st.FinishedAt.IsZero() {
			t.Errorf("from %s: %+v", from, st)
		}
	}
	st := record.State{Status: record.Removing}
	if err := startFailed(&st, ExitNotFound, cause); !errors.Is(err, record.ErrState) || st.Status != record.Removing {
		t.Errorf("from removing: %v, %+v", err, st)
	}
}
