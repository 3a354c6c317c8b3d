package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/record"
)

// labelDep is one dependency of a container's service, as its
// com.docker.compose.depends_on label gives it: service:condition:restart.
type labelDep struct {
	service   string
	condition string
	restart   bool
}

// labelDeps reads m's depends_on label.
func labelDeps(m api.Member) []labelDep {
	var out []labelDep
	for _, d := range strings.Split(m.Record.Config.Labels[LabelDependsOn], ",") {
		f := strings.Split(d, ":")
		if f[0] != "" {
			dep := labelDep{service: f[0], restart: len(f) == 3 && f[2] == "true"}
			if len(f) > 1 {
				dep.condition = f[1]
			}
			out = append(out, dep)
		}
	}
	return out
}

// layers groups containers by dependency, from their
// com.docker.compose.depends_on labels, so that stop, start and down need
// no compose file: each layer depends only on earlier ones. Containers
// whose dependencies form no order (a cycle) come last, together.
func layers(ms []api.Member) [][]api.Member {
	deps := map[string][]string{}
	services := map[string]bool{}
	for _, m := range ms {
		services[m.Service] = true
		for _, d := range labelDeps(m) {
			deps[m.Service] = append(deps[m.Service], d.service)
		}
	}
	placed := map[string]bool{}
	var out [][]api.Member
	for len(placed) < len(services) {
		var next []string
		for s := range services {
			if placed[s] {
				continue
			}
			ready := true
			for _, d := range deps[s] {
				if services[d] && !placed[d] {
					ready = false
				}
			}
			if ready {
				next = append(next, s)
			}
		}
		if len(next) == 0 { // a cycle: the rest at once
			for s := range services {
				if !placed[s] {
					next = append(next, s)
				}
			}
		}
		var layer []api.Member
		for _, m := range ms {
			if slices.Contains(next, m.Service) {
				layer = append(layer, m)
			}
		}
		for _, s := range next {
			placed[s] = true
		}
		out = append(out, layer)
	}
	return out
}

// each runs fn on every container, layer by layer (reversed: dependents
// first), the containers of a layer at once; errors are joined, and a
// failed layer stops the later ones.
func each(ms []api.Member, reverse bool, fn func(api.Member) error) error {
	ls := layers(ms)
	if reverse {
		slices.Reverse(ls)
	}
	for _, layer := range ls {
		var wg sync.WaitGroup
		errs := make([]error, len(layer))
		for i, m := range layer {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = fn(m)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

// stopTimeout is -t as the container manager takes it: negative for each
// container's own grace period.
func stopTimeout(t *int) time.Duration {
	if t == nil {
		return -1
	}
	return time.Duration(*t) * time.Second
}

// Down stops and removes the project's containers (dependents first,
// one-off containers included), then its networks and, with Volumes, its
// volumes, and with Images their images: all found by their labels, so
// the files are not needed.
func (e *Engine) Down(ctx context.Context, name string, o api.DownOptions) error {
	// the images go after the containers: noted first
	var images []string
	if o.Images != "" {
		if o.Images != "local" && o.Images != "all" {
			return errclass.New(errclass.ErrUsage, "invalid --rmi %q: want local or all", o.Images)
		}
		ms, err := e.Members(ctx, name, o.Services...)
		if err != nil {
			return err
		}
		for _, m := range ms {
			local := strings.TrimSuffix(m.Record.Image, ":latest") == name+"-"+m.Service
			if (o.Images == "all" || local) && !slices.Contains(images, m.Record.Image) {
				images = append(images, m.Record.Image)
			}
		}
	}
	if err := e.down(ctx, name, o); err != nil {
		return err
	}
	return e.removeImages(ctx, images)
}

// removeImages removes the images refs (untagged, and deleted when no
// other name holds them), except those a container still uses.
func (e *Engine) removeImages(ctx context.Context, refs []string) error {
	if len(refs) == 0 {
		return nil
	}
	var errs []error
	for _, ref := range refs {
		if err := e.images.Remove(ctx, ref); err != nil {
			errs = append(errs, err)
			continue
		}
		e.event("Image", ref, "Removed")
	}
	return errors.Join(errs...)
}

// down is Down without the images.
func (e *Engine) down(ctx context.Context, name string, o api.DownOptions) error {
	unlock, err := e.lock(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	ms, err := e.Members(ctx, name, o.Services...)
	if err != nil {
		return err
	}
	var gone, orphans []api.Member
	for _, m := range ms {
		if o.Known != nil && !m.Oneoff && !slices.Contains(o.Known, m.Service) && !o.RemoveOrphans {
			orphans = append(orphans, m)
			continue
		}
		gone = append(gone, m)
	}
	if len(orphans) > 0 {
		var names []string
		for _, m := range orphans {
			names = append(names, m.Record.Name)
		}
		e.warn(fmt.Sprintf("Found orphan containers (%s) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", strings.Join(names, ", ")))
	}
	// Stopped first, dependents before what they depend on. Once nothing
	// runs, the networks go while the monitors clean up and the containers
	// are removed: deleting a bridge takes the kernel tens of milliseconds.
	// The networks' events still come after the containers', as compose
	// prints them.
	if err := each(gone, true, func(m api.Member) error {
		return e.stopMember(ctx, m, stopTimeout(o.Timeout), e.containers.Halt)
	}); err != nil {
		return err
	}
	crash.Point("down-halted")
	var networks []networkRemoval
	var netErr error
	removed := make(chan struct{})
	if len(o.Services) == 0 {
		go func() {
			defer close(removed)
			networks, netErr = e.removeNetworks(ctx, name)
		}()
	} else {
		close(removed)
	}
	err = each(gone, true, func(m api.Member) error { return e.remove(ctx, m, o.Volumes) })
	<-removed
	if err != nil || len(o.Services) > 0 {
		return errors.Join(err, netErr)
	}
	if netErr != nil {
		return netErr
	}
	var errs []error
	for _, n := range networks {
		e.event("Network", n.name, "Removing")
		switch {
		case errors.Is(n.err, errclass.ErrConflict):
			e.warn(n.err.Error())
		case n.err != nil:
			errs = append(errs, n.err)
		default:
			e.event("Network", n.name, "Removed")
		}
	}
	if o.Volumes {
		if err := e.dropHandovers(ctx, name); err != nil {
			errs = append(errs, err)
		}
		vols, err := e.volumes.List(ctx)
		if err != nil {
			return err
		}
		for _, v := range vols {
			if v.Labels[LabelProject] != name {
				continue
			}
			e.event("Volume", v.Name, "Removing")
			if err := e.volumes.Remove(ctx, v.Name); err != nil && !errors.Is(err, errclass.ErrNotFound) {
				errs = append(errs, err)
				continue
			}
			e.event("Volume", v.Name, "Removed")
		}
	}
	if len(errs) == 0 && len(orphans) == 0 {
		os.RemoveAll(filepath.Join(e.root, "projects", name))
	}
	return errors.Join(errs...)
}

// networkRemoval is how removing one of the project's networks went.
type networkRemoval struct {
	name string
	err  error
}

// removeNetworks removes the project's networks, each with how it went:
// one that a container of another project still uses stays
// (ErrConflict). The error is the network store's own.
func (e *Engine) removeNetworks(ctx context.Context, project string) ([]networkRemoval, error) {
	store, done, err := e.networks()
	if err != nil {
		return nil, err
	}
	defer done()
	list, err := store.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []networkRemoval
	for _, n := range list {
		if n.Labels[LabelProject] != project {
			continue
		}
		out = append(out, networkRemoval{n.Name, store.Remove(ctx, n.ID)})
	}
	return out, nil
}

// stopMember stops one container that runs, its pre_stop hooks first,
// with stop: the container manager's Stop, or its Halt where what follows
// may overlap the monitor's clean-up (down).
func (e *Engine) stopMember(ctx context.Context, m api.Member, timeout time.Duration, stop func(context.Context, string, time.Duration, string) error) error {
	if !m.State.Running() && m.State.Status != record.Restarting {
		return nil
	}
	e.preStop(ctx, m)
	e.event("Container", m.Record.Name, "Stopping")
	if err := stop(ctx, m.Record.ID, timeout, ""); err != nil {
		return err
	}
	e.event("Container", m.Record.Name, "Stopped")
	return nil
}

// remove removes one stopped container, with its anonymous volumes when
// asked.
func (e *Engine) remove(ctx context.Context, m api.Member, anonymous bool) error {
	e.event("Container", m.Record.Name, "Removing")
	if err := e.containers.Remove(ctx, m.Record.ID, true, anonymous); err != nil && !errors.Is(err, errclass.ErrNotFound) {
		return err
	}
	e.event("Container", m.Record.Name, "Removed")
	return nil
}

// Stop stops the project's running containers, dependents first.
func (e *Engine) Stop(ctx context.Context, name string, services []string, timeout *int) error {
	ms, err := e.Members(ctx, name, services...)
	if err != nil {
		return err
	}
	return each(ms, true, func(m api.Member) error {
		return e.stopMember(ctx, m, stopTimeout(timeout), e.containers.Stop)
	})
}

// Start starts the project's stopped service containers, dependencies
// first; one-off containers stay as they are.
func (e *Engine) Start(ctx context.Context, name string, services []string) error {
	ms, err := e.Members(ctx, name, services...)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return errclass.New(ErrNotFound, "no containers to start")
	}
	return each(ms, false, func(m api.Member) error {
		if m.Oneoff || m.State.Running() {
			return nil
		}
		return e.start(ctx, m.Record.Name, m.Service, e.remembered(m).PostStart)
	})
}

// Restart stops then starts the project's containers, or those of the
// services named and, as compose's restart does unless noDeps, of the
// services that depend on one of those with depends_on restart: true (and
// on theirs in turn).
func (e *Engine) Restart(ctx context.Context, name string, services []string, noDeps bool, timeout *int) error {
	if len(services) > 0 && !noDeps {
		all, err := e.Members(ctx, name)
		if err != nil {
			return err
		}
		services = withRestartDependents(all, services)
	}
	ms, err := e.Members(ctx, name, services...)
	if err != nil {
		return err
	}
	// one-off containers are not the services': compose leaves them be
	ms = slices.DeleteFunc(ms, func(m api.Member) bool { return m.Oneoff })
	if err := each(ms, true, func(m api.Member) error {
		return e.stopMember(ctx, m, stopTimeout(timeout), e.containers.Stop)
	}); err != nil {
		return err
	}
	return each(ms, false, func(m api.Member) error {
		e.event("Container", m.Record.Name, "Restarting")
		if _, err := e.containers.Start(ctx, m.Record.ID, nil); err != nil {
			return err
		}
		e.event("Container", m.Record.Name, "Started")
		return e.runHooks(ctx, "post_start", m.Record.Name, m.Record.Name, e.remembered(m).PostStart)
	})
}

// withRestartDependents is services and every service of ms that depends,
// with restart: true, on one of them, transitively, from the containers'
// com.docker.compose.depends_on labels (service:condition:restart).
func withRestartDependents(ms []api.Member, services []string) []string {
	set := map[string]bool{}
	for _, s := range services {
		set[s] = true
	}
	for grew := true; grew; {
		grew = false
		for _, m := range ms {
			if set[m.Service] {
				continue
			}
			for _, d := range labelDeps(m) {
				if d.restart && set[d.service] {
					set[m.Service], grew = true, true
					break
				}
			}
		}
	}
	out := slices.Clone(services)
	for _, m := range ms {
		if set[m.Service] && !slices.Contains(out, m.Service) {
			out = append(out, m.Service)
		}
	}
	return out
}

// eachMember applies op (kill, pause, unpause, ...) to the project's containers
// that pass keep, all at once, reporting what (done) happened to each.
func (e *Engine) eachMember(ctx context.Context, name string, services []string, keep func(api.Member) bool, done string, op func(api.Member) error) error {
	ms, err := e.Members(ctx, name, services...)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ms))
	for i, m := range ms {
		if !keep(m) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = op(m); errs[i] == nil {
				e.event("Container", m.Record.Name, done)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitSettle is how long up --wait sees a container without a
// healthcheck run before it counts it as up (container.WaitRunning).
const waitSettle = 500 * time.Millisecond

// Wait waits until every service container of the project is running and,
// if it has a healthcheck, healthy (up --wait); a one-shot container that
// exited 0 counts as done. A container that fails, or turns unhealthy,
// ends the wait with its error. Each container is reported Waiting, then
// Healthy (or Exited), as docker compose does.
func (e *Engine) Wait(ctx context.Context, name string, services []string) error {
	ms, err := e.Members(ctx, name, services...)
	if err != nil {
		return err
	}
	return each(ms, false, func(m api.Member) error {
		if m.Oneoff {
			return nil
		}
		e.event("Container", m.Record.Name, "Waiting")
		var err error
		if m.Record.Health != nil {
			err = e.containers.WaitHealthy(ctx, m.Record.ID)
		} else {
			err = e.containers.WaitRunning(ctx, m.Record.ID, waitSettle)
		}
		if err != nil {
			e.event("Container", m.Record.Name, "Error")
			return err
		}
		done := "Healthy"
		if cur, err := e.containers.Get(ctx, m.Record.ID); err == nil && !cur.State.Running() {
			done = "Exited"
		}
		e.event("Container", m.Record.Name, done)
		return nil
	})
}
