package record

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTransitions: every move the lifecycle has is taken, and moves it
// does not have are refused with ErrState, the state left as it was.
func TestTransitions(t *testing.T) {
	allowed := map[[2]Status]bool{}
	for from, tos := range transitions {
		for _, to := range tos {
			allowed[[2]Status{from, to}] = true
		}
	}
	for _, tc := range []struct {
		from, to Status
		ok       bool
	}{
		{Created, Running, true}, {Created, Exited, true}, {Created, Removing, true},
		{Running, Exited, true}, {Running, Paused, true}, {Running, Restarting, true}, {Running, Removing, true}, {Running, Dead, true},
		{Paused, Running, true}, {Paused, Exited, true}, {Paused, Restarting, true}, {Paused, Removing, true},
		{Restarting, Running, true}, {Restarting, Exited, true}, {Restarting, Removing, true},
		{Exited, Running, true}, {Exited, Restarting, true}, {Exited, Removing, true},
		{Dead, Removing, true},
		{"", Running, true}, // a state without a status is created
		{Created, Paused, false}, {Exited, Paused, false}, {Paused, Paused, false}, {Created, Restarting, false},
		{Removing, Running, false}, {Removing, Exited, false}, {Dead, Running, false}, {Exited, Dead, false},
	} {
		st := State{Status: tc.from, ExitCode: 3}
		err := st.To(tc.to)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s -> %s: %v, want it taken", tc.from, tc.to, err)
		case tc.ok && st.Status != tc.to:
			t.Errorf("%s -> %s: status %s", tc.from, tc.to, st.Status)
		case !tc.ok && !errors.Is(err, ErrState):
			t.Errorf("%s -> %s: %v, want ErrState", tc.from, tc.to, err)
		case !tc.ok && (st.Status != tc.from || st.ExitCode != 3):
			t.Errorf("%s -> %s refused, but the state became %+v", tc.from, tc.to, st)
		}
		if tc.from != "" && tc.ok != allowed[[2]Status{tc.from, tc.to}] {
			t.Errorf("%s -> %s: the table says %v", tc.from, tc.to, allowed[[2]Status{tc.from, tc.to}])
		}
	}
	// every move in the table is in the test above
	if n := len(allowed); n != 19 {
		t.Errorf("the table has %d moves, the test 19", n)
	}
}

// TestExit: an exit goes through the state machine under the store's
// lock: running becomes exited or restarting with the exit's details, and
// a move the machine refuses is an error that leaves state.json as it was.
func TestExit(t *testing.T) {
	ctx := context.Background()
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := &Record{ID: NewID(), Name: "exit-" + t.Name(), Created: time.Now()}
	if err := s.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	set := func(st State) {
		t.Helper()
		if _, err := s.Update(ctx, rec.ID, func(s *State) error { *s = st; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now().UTC()
	for _, restart := range []bool{false, true} {
		set(State{Status: Running, Pid: 42})
		st, err := s.Update(ctx, rec.ID, func(st *State) error { return st.Exit(137, at, true, restart) })
		want := map[bool]Status{false: Exited, true: Restarting}[restart]
		if err != nil || st.Status != want || st.ExitCode != 137 || st.Pid != 0 || !st.OOMKilled || !st.FinishedAt.Equal(at) {
			t.Errorf("exit of a running container (restart %v): %+v, %v; want %s, code 137, no pid, OOM", restart, st, err, want)
		}
		if e, err := s.Load(rec.ID); err != nil || e.State.Status != want {
			t.Errorf("state.json after the exit: %+v, %v", e.State, err)
		}
	}
	path := filepath.Join(s.Dir(rec.ID), "state.json")
	for _, from := range []Status{Removing, Created} {
		set(State{Status: from, Pid: 42})
		before, _ := os.ReadFile(path)
		_, err := s.Update(ctx, rec.ID, func(st *State) error { return st.Exit(1, time.Now(), false, true) })
		after, _ := os.ReadFile(path)
		if !errors.Is(err, ErrState) || !bytes.Equal(before, after) {
			t.Errorf("exit of a %s container: %v, state.json changed %v; want ErrState and no change", from, err, !bytes.Equal(before, after))
		}
	}
}
