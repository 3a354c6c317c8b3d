package container

import (
	"context"
	"encoding/json"
	"os"

	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
)

// applyPending records the exit that e's run left pending, if any (its
// init gone, the exit kept by its monitor: monitor.PendingExit), and
// reports whether there was one. When the state still cannot be written, e says in memory what is
// known: exited, with the code and why it is not recorded; so ps never
// shows a dead process as running.
func (m *Manager) applyPending(ctx context.Context, e *record.Entry) bool {
	id := e.Record.ID
	data, err := os.ReadFile(monitor.PendingPath(m.root, id))
	if err != nil {
		return false
	}
	var p monitor.PendingExit
	if json.Unmarshal(data, &p) != nil || p.Pid != e.State.Pid {
		os.Remove(monitor.PendingPath(m.root, id)) // a later run's state is written: history
		return false
	}
	if monitor.Alive(p.Pid) {
		return false
	}
	apply := func(st *record.State) error {
		if err := st.To(record.Exited); err != nil {
			return err
		}
		st.Pid = 0
		st.ExitCode, st.FinishedAt, st.OOMKilled = p.ExitCode, p.FinishedAt, p.OOMKilled
		return nil
	}
	st, err := m.Store.Update(ctx, id, func(st *record.State) error {
		if st.Pid == p.Pid && (st.Running() || st.Status == record.Restarting) {
			return apply(st)
		}
		return nil
	})
	if err != nil {
		if aerr := apply(&e.State); aerr != nil {
			return false // not a run that the pending exit ends
		}
		e.State.Error = "the exit could not be recorded: " + p.Reason
		return true
	}
	os.Remove(monitor.PendingPath(m.root, id))
	e.State = st
	if !monitor.Of(st, id) {
		monitor.CleanRuntime(m.root, m.Store, id) // what its monitor could not: networks, mounts
	}
	return true
}
