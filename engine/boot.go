package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/record"
)

// bootDep is one container a restored container waits for: a compose
// depends_on (with its condition) or a container whose namespace, network
// or name it needs running (condition "": started).
type bootDep struct {
	id, name, service string
	condition         string
	// cycle marks a wait that would close a cycle: left out, so that no
	// two restorations wait on each other
	cycle bool
}

// BootOptions are the choices of a Boot.
type BootOptions struct {
	// WaitTimeout bounds each wait of a restored container for a
	// dependency's condition (healthy, completed successfully); 0 waits
	// as long as it takes. A boot run by the init system must end: a
	// dependency that never becomes healthy would otherwise hold the
	// machine's start-up (the unit is ordered before multi-user.target).
	WaitTimeout time.Duration
}

// bootJob is the restoration of one container.
type bootJob struct {
	entry record.Entry
	deps  []bootDep
	done  chan struct{}
	err   error
}

// Boot restores, after a reboot, what Docker's daemon restores when it
// starts: every network of the root is made again from its record (the
// bridge, its address, berth's firewall table); containers started with
// --rm that the reboot stopped are removed; and every container whose
// restart policy says so (container.Restorable) is started again, each
// once the containers it depends on are up: its compose depends_on
// conditions (started, healthy, completed successfully: an exit 0
// recorded, or awaited from a one-shot being restored), from the
// com.docker.compose.depends_on label, and the containers whose network,
// PID or IPC namespace it joins or that it links to. Independent
// containers start at once. A container that fails, or whose dependency
// fails, does not stop the others; the errors come back joined, one per
// container. Containers running or started in this boot are left alone,
// so a second Boot changes nothing. A wait for a dependency longer than
// opts.WaitTimeout fails the dependent container alone. Each compose
// project restored is locked for the boot, as an up locks it.
func (e *Engine) Boot(ctx context.Context, opts BootOptions) error {
	// two boots at once (the unit and a hand) would start a container twice
	unlock, err := disk.Lock(ctx, filepath.Join(e.root, "boot.lock"), false)
	if err != nil {
		return err
	}
	defer unlock()
	// listing refreshes: a container the reboot stopped is recorded so
	// (exited, 255) before anything looks at it
	all, err := e.containers.List(ctx)
	if err != nil {
		return err
	}
	errs := e.remakeNetworks(ctx)
	jobs := map[string]*bootJob{}
	for _, c := range all {
		switch {
		case container.RemovableAtBoot(c):
			if err := e.containers.Remove(ctx, c.Record.ID, true, true); err != nil {
				errs = append(errs, fmt.Errorf("removing container %s: %w", c.Record.Name, err))
			} else {
				e.event("Container", c.Record.Name, "Removed")
			}
		case container.Restorable(c):
			jobs[c.Record.ID] = &bootJob{entry: c, done: make(chan struct{})}
		}
	}
	// each project restored is held as an up holds it: an up or a down
	// of it run meanwhile (by hand, or by another unit) waits for the
	// boot instead of racing it
	var projects []string
	for _, j := range jobs {
		j.deps = bootDeps(j.entry, all)
		if name := j.entry.Record.Config.Labels[LabelProject]; name != "" && !slices.Contains(projects, name) {
			projects = append(projects, name)
		}
	}
	slices.Sort(projects) // one order for every taker: no deadlock
	for _, name := range projects {
		unlock, err := e.lock(ctx, name)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("project %s: %w", name, err))...)
		}
		defer unlock()
	}
	acyclic(jobs)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			defer close(j.done)
			j.err = e.restore(ctx, j, jobs, opts)
		})
	}
	wg.Wait()
	for _, id := range slices.SortedFunc(maps.Keys(jobs), func(a, b string) int {
		return strings.Compare(jobs[a].entry.Record.Name, jobs[b].entry.Record.Name)
	}) {
		if err := jobs[id].err; err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// remakeNetworks makes every network's bridge again, as Docker's daemon
// makes its networks at its start, so that a network is there for
// containers started later by hand too.
func (e *Engine) remakeNetworks(ctx context.Context) []error {
	store, done, err := e.networks()
	if err != nil {
		return []error{err}
	}
	defer done()
	list, err := store.List(ctx)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, n := range list {
		made, err := store.Ensure(ctx, n)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("network %s: %w", n.Name, err))
		case made:
			e.event("Network", n.Name, "Created")
		}
	}
	// the table and the iptables chain, for the networks no container
	// restored here joins too
	if err := store.CheckFirewall(ctx); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// bootDeps are the containers c waits for before its restoration, from
// the containers there are (all).
func bootDeps(c record.Entry, all []record.Entry) []bootDep {
	var out []bootDep
	byID := func(id string) {
		for _, o := range all {
			if o.Record.ID == id {
				out = append(out, bootDep{id: o.Record.ID, name: o.Record.Name})
			}
		}
	}
	if project := c.Record.Config.Labels[LabelProject]; project != "" {
		for _, d := range labelDeps(api.Member{Entry: c}) {
			for _, m := range members(all, project) {
				if m.Service == d.service && !m.Oneoff {
					out = append(out, bootDep{id: m.Record.ID, name: m.Record.Name, service: d.service, condition: d.condition})
				}
			}
		}
	}
	h := c.Record.Host
	if h.NetworkContainer != "" {
		byID(h.NetworkContainer)
	}
	for _, mode := range []string{h.PidMode, h.IpcMode} {
		if id, ok := strings.CutPrefix(mode, "container:"); ok {
			byID(id)
		}
	}
	for _, l := range h.Links {
		name, _, _ := strings.Cut(l, ":")
		for _, o := range all {
			if o.Record.Name == name {
				out = append(out, bootDep{id: o.Record.ID, name: o.Record.Name})
			}
		}
	}
	return out
}

// acyclic marks the dependencies among jobs that close a cycle (compose
// refuses cycles, but links and namespaces are not checked against them),
// depth-first in ID order.
func acyclic(jobs map[string]*bootJob) {
	const visiting, visited = 1, 2
	mark := map[string]int{}
	var visit func(id string)
	visit = func(id string) {
		mark[id] = visiting
		for i := range jobs[id].deps {
			d := &jobs[id].deps[i]
			if _, ok := jobs[d.id]; !ok {
				continue
			}
			switch mark[d.id] {
			case visiting:
				d.cycle = true
			case 0:
				visit(d.id)
			}
		}
		mark[id] = visited
	}
	for _, id := range slices.Sorted(maps.Keys(jobs)) {
		if mark[id] == 0 {
			visit(id)
		}
	}
}

// restore starts j's container once its dependencies are up.
func (e *Engine) restore(ctx context.Context, j *bootJob, jobs map[string]*bootJob, opts BootOptions) error {
	name := j.entry.Record.Name
	for _, d := range j.deps {
		if d.cycle {
			continue
		}
		dj, restoring := jobs[d.id]
		if restoring {
			<-dj.done
			if dj.err != nil {
				return errclass.New(ErrFailed, "container %s: not restored: its dependency %s failed to start", name, d.name)
			}
		}
		if err := e.bootCondition(ctx, d, restoring, opts.WaitTimeout); err != nil {
			return errclass.Wrap(ErrFailed, err, fmt.Sprintf("container %s: not restored: %v", name, err))
		}
	}
	e.event("Container", name, "Starting")
	if err := e.containers.Restore(ctx, j.entry.Record.ID); err != nil {
		e.event("Container", name, "Error")
		return fmt.Errorf("restoring container %s: %w", name, err)
	}
	e.event("Container", name, "Started")
	return nil
}

// bootCondition waits until the dependency d holds its condition; restored
// says whether it was just restored (and started). A wait longer than
// timeout (when not 0) fails with ErrFailed.
func (e *Engine) bootCondition(ctx context.Context, d bootDep, restored bool, timeout time.Duration) error {
	parent := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := e.awaitCondition(ctx, d, restored)
	if err != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errclass.New(ErrFailed, "dependency %s did not become %s within %s", d.name, conditionWord(d.condition), timeout)
	}
	return err
}

// conditionWord is what a dependency must become for condition.
func conditionWord(condition string) string {
	switch condition {
	case types.ServiceConditionCompletedSuccessfully:
		return "completed"
	case types.ServiceConditionHealthy:
		return "healthy"
	}
	return "running"
}

// awaitCondition waits, as long as ctx lets it, until d holds its
// condition.
func (e *Engine) awaitCondition(ctx context.Context, d bootDep, restored bool) error {
	cur, err := e.containers.Get(ctx, d.id)
	if err != nil {
		return err
	}
	running := cur.State.Running() || cur.State.Status == record.Restarting
	what := cmp.Or(d.service, d.name)
	switch d.condition {
	case types.ServiceConditionCompletedSuccessfully:
		code := cur.State.ExitCode
		if running {
			e.event("Container", d.name, "Waiting")
			if code, err = e.containers.Wait(ctx, d.id); err != nil {
				return err
			}
		} else if cur.State.StartedAt.IsZero() {
			return errclass.New(ErrFailed, "service %q has not run", what)
		}
		if code != 0 {
			return errclass.New(ErrFailed, "service %q didn't complete successfully: exit %d", what, code)
		}
		e.event("Container", d.name, "Exited")
	case types.ServiceConditionHealthy:
		if !running && !restored {
			return errclass.New(ErrFailed, "dependency %s is not running and its restart policy does not restore it", d.name)
		}
		e.event("Container", d.name, "Waiting")
		if err := e.containers.WaitHealthy(ctx, d.id); err != nil {
			return fmt.Errorf("dependency failed to start: %w", err)
		}
		e.event("Container", d.name, "Healthy")
	default: // started
		if !running && !restored {
			return errclass.New(ErrFailed, "dependency %s is not running and its restart policy does not restore it", d.name)
		}
	}
	return nil
}
