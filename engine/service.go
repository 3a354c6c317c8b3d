package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/record"
)

// The local engine is the first implementation of the seam.
var _ api.Service = (*Engine)(nil)

// up says whether m is up: running or paused, not a one-off, what
// compose's pause and unpause act on.
func up(m api.Member) bool {
	return !m.Oneoff && (m.State.Status == record.Running || m.State.Status == record.Paused)
}

// Pause pauses the project's containers that are up; pausing one already
// paused is an error, as in docker compose.
func (e *Engine) Pause(ctx context.Context, project string, services []string) error {
	return e.eachMember(ctx, project, services, up, "Paused", func(m api.Member) error { return e.containers.Pause(ctx, m.Record.ID) })
}

// Unpause unpauses the project's containers that are up; unpausing a
// running one is an error, as in docker compose.
func (e *Engine) Unpause(ctx context.Context, project string, services []string) error {
	return e.eachMember(ctx, project, services, up, "Unpaused", func(m api.Member) error { return e.containers.Unpause(ctx, m.Record.ID) })
}

// Kill sends signal to the project's running containers.
func (e *Engine) Kill(ctx context.Context, project string, services []string, signal string) error {
	return e.eachMember(ctx, project, services, func(m api.Member) bool { return m.State.Status == record.Running }, "Killed",
		func(m api.Member) error { return e.containers.Kill(ctx, m.Record.ID, signal) })
}

// Remove removes the project's stopped service containers (not
// one-offs), as compose rm does.
func (e *Engine) Remove(ctx context.Context, project string, services []string, o api.RemoveOptions) error {
	if o.Stop {
		if err := e.Stop(ctx, project, services, nil); err != nil {
			return err
		}
	}
	ms, err := e.Members(ctx, project, services...)
	if err != nil {
		return err
	}
	var names []string
	for _, m := range ms {
		if !m.State.Running() && !m.Oneoff {
			names = append(names, m.Record.Name)
		}
	}
	if o.Confirm != nil && !o.Confirm(names) || len(names) == 0 {
		return nil
	}
	return e.eachMember(ctx, project, services, func(m api.Member) bool { return slices.Contains(names, m.Record.Name) }, "Removed",
		func(m api.Member) error { return e.containers.Remove(ctx, m.Record.ID, false, o.Volumes) })
}

// ServiceContainer is the service's container numbered index, or its
// first when index is 0; one-offs are not counted.
func (e *Engine) ServiceContainer(ctx context.Context, project, service string, index int) (api.Member, error) {
	ms, err := e.Members(ctx, project, service)
	if err != nil {
		return api.Member{}, err
	}
	for _, m := range ms {
		if !m.Oneoff && (index == 0 || m.Number == index) {
			return m, nil
		}
	}
	if index > 0 {
		return api.Member{}, fmt.Errorf("service %q is not running container #%d", service, index)
	}
	return api.Member{}, fmt.Errorf("service %q is not running", service)
}

// Top lists the processes of the project's running containers, by
// container name as compose sorts them.
func (e *Engine) Top(ctx context.Context, project string, services []string) ([]api.ContainerTop, error) {
	ms, err := e.Members(ctx, project, services...)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ms, func(a, b api.Member) int { return strings.Compare(a.Record.Name, b.Record.Name) })
	var out []api.ContainerTop
	for _, m := range ms {
		if !m.State.Running() {
			continue
		}
		p, err := e.processes.Top(ctx, m.Record.ID, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, api.ContainerTop{Member: m, Processes: p})
	}
	return out, nil
}

// Stats samples the resource use of the project's running containers
// (with o.All, of all of them; one-offs included, as compose shows them),
// two samples o.Interval apart; nil when there is none to sample.
func (e *Engine) Stats(ctx context.Context, project string, o api.StatsOptions) ([]proc.StatsRow, error) {
	ms, err := e.Members(ctx, project, o.Services...)
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, m := range ms {
		if o.All || m.State.Running() {
			refs = append(refs, m.Record.ID)
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	return e.processes.Stats(ctx, refs, cmp.Or(o.Interval, time.Second))
}

// Exec runs o's command in the service's container numbered index (0:
// its first) and returns its exit code.
func (e *Engine) Exec(ctx context.Context, project, service string, index int, o proc.ExecOptions) (int, error) {
	m, err := e.ServiceContainer(ctx, project, service, index)
	if err != nil {
		return 0, err
	}
	return e.processes.Exec(ctx, m.Record.ID, o)
}

// AttachContainer attaches o's streams to the service's running
// container numbered index and returns its exit code once it exits.
func (e *Engine) AttachContainer(ctx context.Context, project, service string, index int, o proc.AttachOptions) (int, error) {
	m, err := e.ServiceContainer(ctx, project, service, index)
	if err != nil {
		return 0, err
	}
	return e.processes.Attach(ctx, m.Record.ID, o)
}

// Copy copies between the host and a service's container: the side
// written SERVICE:PATH (not a path that begins with / or .) names the
// service, whose container numbered index (0: its first) is used.
func (e *Engine) Copy(ctx context.Context, project, src, dst string, index int, o proc.CopyOptions) error {
	args := []string{src, dst}
	for i, a := range args {
		if svc, path, ok := CopyService(a); ok {
			m, err := e.ServiceContainer(ctx, project, svc, index)
			if err != nil {
				return err
			}
			args[i] = m.Record.ID + ":" + path
		}
	}
	return e.processes.Copy(ctx, args[0], args[1], o)
}

// CopyService splits cp's SERVICE:PATH argument; ok is false for a host
// path.
func CopyService(arg string) (service, path string, ok bool) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", "", false
	}
	return strings.Cut(arg, ":")
}

// WaitExits waits for each of the services' containers (not one-offs) to
// exit, one after another, and hands each code to each; an error from
// each ends the wait.
func (e *Engine) WaitExits(ctx context.Context, project string, services []string, each func(api.Member, int) error) error {
	ms, err := e.Members(ctx, project, services...)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return fmt.Errorf("no containers for the services given")
	}
	for _, m := range ms {
		if m.Oneoff {
			continue
		}
		code, err := e.containers.Wait(ctx, m.Record.ID)
		if err != nil {
			return err
		}
		if err := each(m, code); err != nil {
			return err
		}
	}
	return nil
}

// Run creates a one-off container of service, as compose run does, says
// its creation's warnings on the streams' stderr, and starts it: with
// o.Detach, it returns once the container runs; attached to the streams
// (as -i and -t ask, container.AttachFor), once it has exited, with its
// exit code (a --rm container is removed then, and after a failed start
// too).
func (e *Engine) Run(ctx context.Context, p *project.Project, service string, o api.RunOptions, streams proc.Streams) (api.RunResult, error) {
	co, err := e.PrepareRun(ctx, p, service, o)
	if err != nil {
		return api.RunResult{}, err
	}
	co.Progress = e.Pulls
	rec, err := e.containers.Create(ctx, co)
	if err != nil {
		return api.RunResult{Prepared: true}, err
	}
	for _, w := range rec.Warnings {
		fmt.Fprintln(streams.Stderr, "WARNING:", w)
	}
	res := api.RunResult{Name: rec.Name, Prepared: true}
	var attach *container.Attach
	if !o.Detach {
		attach = container.AttachFor(streams, rec)
	}
	res.Code, err = e.containers.Start(ctx, rec.ID, attach)
	if err != nil && !o.Detach && o.AutoRemove {
		e.containers.Remove(ctx, rec.ID, true, true)
	}
	return res, err
}
