package container

import (
	"context"
	"errors"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
)

// Remove deletes a container; a running one only with force (killed first).
// With removeVolumes its anonymous volumes go too (rm -v); named volumes
// never do.
func (m *Manager) Remove(ctx context.Context, ref string, force bool, removeVolumes ...bool) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if e.State.Running() || e.State.Status == record.Restarting {
		if !force {
			return errclass.New(ErrConflict, "cannot remove container %q: container is running: stop the container before removing or force remove", "/"+e.Record.Name)
		}
		if _, err := m.stop(ctx, e.Record.ID, 0, "SIGKILL", stopToRemove); err != nil {
			return err
		}
	}
	// an exited container's monitor may still be cleaning up after it
	// (after Halt, or an exit of its own): its root is still mounted
	if monitor.Of(e.State, e.Record.ID) {
		if err := monitor.WaitProcess(ctx, e.State.MonitorPid, -1); err != nil {
			return err
		}
	}
	// from here on the removal is carried through by whoever comes next
	// should this process be killed (see intent)
	var vols []string
	if len(removeVolumes) > 0 && removeVolumes[0] {
		for _, u := range e.Record.Volumes {
			if u.Anonymous {
				vols = append(vols, u.Name)
			}
		}
	}
	if err := m.begin(ctx, e.Record.ID, "remove", vols); err != nil {
		return err
	}
	crash.Point("remove-intent")
	if _, err := m.Store.Update(ctx, e.Record.ID, func(st *record.State) error { return st.To(record.Removing) }); err != nil && !errors.Is(err, ErrState) {
		m.done(e.Record.ID)
		return err
	}
	return m.finish(context.WithoutCancel(ctx), e.Record.ID, vols)
}

// Prune removes every container that does not run, as docker container
// prune does, and names those it removed. One that cannot be removed
// (another command's at the moment) is left, as Docker leaves it; their
// anonymous volumes stay too, for volume prune to take.
func (m *Manager) Prune(ctx context.Context) ([]string, error) {
	entries, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if e.State.Running() || e.State.Status == record.Restarting {
			continue
		}
		if err := m.Remove(ctx, e.Record.ID, false); err == nil {
			removed = append(removed, e.Record.ID)
		}
	}
	return removed, nil
}
