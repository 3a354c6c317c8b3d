package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/watch"
)

// Service is what the CLI does to a compose project, in the spirit of
// docker compose's api.Service: every project command goes through it,
// and the local Engine is its first implementation (a cluster backend
// would be another).
//
// Vocabulary. A project is named (its compose name); the operations that
// make or change containers take the loaded *project.Project, those that
// act on what exists take only its name, so that ps, logs, stop and down
// work without a compose file, found by the containers' labels. A Member
// is one of the project's containers with its service, replica number
// and state. services, where an operation takes them, narrow it to those
// services' containers (nil: all); an unknown service name is the
// caller's to refuse (project.CheckServices) before the call.
//
// Contract. Each operation reports progress (one line per object:
// "Container app-1  Started") through the engine's Report, and returns
// the first real error, classed with errclass (ErrNotFound, ErrConflict,
// ErrState, ...) so that the CLI picks the exit code from the class. An
// operation on several containers does them in dependency order where
// order matters (Up, Start, Stop, Down) and in parallel where the graph
// allows. Operations that run a process and wait for it (Exec, Run,
// AttachContainer, WaitExits) return its exit code beside the error.
// ctx ends every operation except an attached up's following (Attach),
// which the user's interrupts end (see Attach).
type Service interface {
	// Up creates, recreates and starts the project's containers, as
	// docker compose up -d does; Attach then follows them.
	Up(ctx context.Context, p *project.Project, o UpOptions) error
	// Attach follows the project's containers as an attached up does.
	Attach(ctx context.Context, project string, o AttachOptions, c LogConsumer) (int, error)
	// Wait waits for the project's containers to be running or healthy
	// (up --wait).
	Wait(ctx context.Context, project string, services []string) error
	Down(ctx context.Context, project string, o DownOptions) error
	Start(ctx context.Context, project string, services []string) error
	Stop(ctx context.Context, project string, services []string, timeout *int) error
	Restart(ctx context.Context, project string, services []string, noDeps bool, timeout *int) error
	Pause(ctx context.Context, project string, services []string) error
	Unpause(ctx context.Context, project string, services []string) error
	Kill(ctx context.Context, project string, services []string, signal string) error
	// Remove removes the project's stopped containers (compose rm).
	Remove(ctx context.Context, project string, services []string, o RemoveOptions) error
	// Members are the project's containers (ps), Projects every
	// project's (ls).
	Members(ctx context.Context, project string, services ...string) ([]Member, error)
	Projects(ctx context.Context) (map[string][]Member, error)
	// ServiceContainer is a service's container: replica index, or the
	// first when index is 0.
	ServiceContainer(ctx context.Context, project, service string, index int) (Member, error)
	Logs(ctx context.Context, project string, services []string, o LogsOptions, c LogConsumer) error
	Events(ctx context.Context, project string, services []string, emit func(Event) error) error
	Top(ctx context.Context, project string, services []string) ([]ContainerTop, error)
	// Exec runs a command in a service's container.
	Exec(ctx context.Context, project, service string, index int, o container.ExecOptions) (int, error)
	// Run runs a one-off container of a service (compose run): with
	// o.Detach it returns once started; else attached, once it exits.
	Run(ctx context.Context, p *project.Project, service string, o RunOptions, streams container.Streams) (RunResult, error)
	// AttachContainer attaches to a service's running container.
	AttachContainer(ctx context.Context, project, service string, index int, o container.AttachOptions) (int, error)
	// Copy copies between a service's container (SERVICE:PATH, either
	// side) and the host.
	Copy(ctx context.Context, project, src, dst string, index int, o container.CopyOptions) error
	// WaitExits waits for each of the services' containers to exit, in
	// turn, and hands each code to each.
	WaitExits(ctx context.Context, project string, services []string, each func(Member, int) error) error
	// Image makes sure a service's image is here, pulled as policy says
	// ("" for the service's pull_policy), with progress (compose pull).
	Image(ctx context.Context, p *project.Project, s types.ServiceConfig, policy string, progress container.Progress) error
	// Watch keeps the containers in step with compose's develop.watch
	// rules until ctx ends.
	Watch(ctx context.Context, p *project.Project, rules []watch.Rule, o WatchOptions) error
}

var _ Service = (*Engine)(nil)

// up says whether m is up: running or paused, not a one-off, what
// compose's pause and unpause act on.
func up(m Member) bool {
	return !m.Oneoff && (m.State.Status == record.Running || m.State.Status == record.Paused)
}

// Pause pauses the project's containers that are up; pausing one already
// paused is an error, as in docker compose.
func (e *Engine) Pause(ctx context.Context, project string, services []string) error {
	return e.eachMember(ctx, project, services, up, "Paused", func(m Member) error { return e.Containers.Pause(ctx, m.Record.ID) })
}

// Unpause unpauses the project's containers that are up; unpausing a
// running one is an error, as in docker compose.
func (e *Engine) Unpause(ctx context.Context, project string, services []string) error {
	return e.eachMember(ctx, project, services, up, "Unpaused", func(m Member) error { return e.Containers.Unpause(ctx, m.Record.ID) })
}

// Kill sends signal to the project's running containers.
func (e *Engine) Kill(ctx context.Context, project string, services []string, signal string) error {
	return e.eachMember(ctx, project, services, func(m Member) bool { return m.State.Status == record.Running }, "Killed",
		func(m Member) error { return e.Containers.Kill(ctx, m.Record.ID, signal) })
}

// RemoveOptions shape Remove.
type RemoveOptions struct {
	// Stop stops the containers first; otherwise running ones stay.
	Stop bool
	// Volumes removes their anonymous volumes too.
	Volumes bool
	// Confirm is asked, with the names, before anything is removed;
	// nil removes without asking. None to remove: Confirm(nil) is told,
	// and Remove returns nil.
	Confirm func(names []string) bool
}

// Remove removes the project's stopped service containers (not
// one-offs), as compose rm does.
func (e *Engine) Remove(ctx context.Context, project string, services []string, o RemoveOptions) error {
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
	return e.eachMember(ctx, project, services, func(m Member) bool { return slices.Contains(names, m.Record.Name) }, "Removed",
		func(m Member) error { return e.Containers.Remove(ctx, m.Record.ID, false, o.Volumes) })
}

// ServiceContainer is the service's container numbered index, or its
// first when index is 0; one-offs are not counted.
func (e *Engine) ServiceContainer(ctx context.Context, project, service string, index int) (Member, error) {
	ms, err := e.Members(ctx, project, service)
	if err != nil {
		return Member{}, err
	}
	for _, m := range ms {
		if !m.Oneoff && (index == 0 || m.Number == index) {
			return m, nil
		}
	}
	if index > 0 {
		return Member{}, fmt.Errorf("service %q is not running container #%d", service, index)
	}
	return Member{}, fmt.Errorf("service %q is not running", service)
}

// ContainerTop is one running container's processes, for top.
type ContainerTop struct {
	Member
	container.Processes
}

// Top lists the processes of the project's running containers, by
// container name as compose sorts them.
func (e *Engine) Top(ctx context.Context, project string, services []string) ([]ContainerTop, error) {
	ms, err := e.Members(ctx, project, services...)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Record.Name, b.Record.Name) })
	var out []ContainerTop
	for _, m := range ms {
		if !m.State.Running() {
			continue
		}
		p, err := e.Containers.Top(ctx, m.Record.ID, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, ContainerTop{m, p})
	}
	return out, nil
}

// Exec runs o's command in the service's container numbered index (0:
// its first) and returns its exit code.
func (e *Engine) Exec(ctx context.Context, project, service string, index int, o container.ExecOptions) (int, error) {
	m, err := e.ServiceContainer(ctx, project, service, index)
	if err != nil {
		return 0, err
	}
	return e.Containers.Exec(ctx, m.Record.ID, o)
}

// AttachContainer attaches o's streams to the service's running
// container numbered index and returns its exit code once it exits.
func (e *Engine) AttachContainer(ctx context.Context, project, service string, index int, o container.AttachOptions) (int, error) {
	m, err := e.ServiceContainer(ctx, project, service, index)
	if err != nil {
		return 0, err
	}
	return e.Containers.Attach(ctx, m.Record.ID, o)
}

// Copy copies between the host and a service's container: the side
// written SERVICE:PATH (not a path that begins with / or .) names the
// service, whose container numbered index (0: its first) is used.
func (e *Engine) Copy(ctx context.Context, project, src, dst string, index int, o container.CopyOptions) error {
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
	return e.Containers.Copy(ctx, args[0], args[1], o)
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
func (e *Engine) WaitExits(ctx context.Context, project string, services []string, each func(Member, int) error) error {
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
		code, err := e.Containers.Wait(ctx, m.Record.ID)
		if err != nil {
			return err
		}
		if err := each(m, code); err != nil {
			return err
		}
	}
	return nil
}

// RunResult is what Run made: the one-off container's name, and its exit
// code when attached. Prepared says that the dependencies were up and
// the service's settings converted: an error after it is the container's
// (its creation or its start), before it the project's.
type RunResult struct {
	Name     string
	Code     int
	Prepared bool
}

// Run creates a one-off container of service, as compose run does, says
// its creation's warnings on the streams' stderr, and starts it: with
// o.Detach, it returns once the container runs; attached to the streams
// (as -i and -t ask, container.Streams.For), once it has exited, with its
// exit code (a --rm container is removed then, and after a failed start
// too).
func (e *Engine) Run(ctx context.Context, p *project.Project, service string, o RunOptions, streams container.Streams) (RunResult, error) {
	co, err := e.PrepareRun(ctx, p, service, o)
	if err != nil {
		return RunResult{}, err
	}
	co.Progress = e.Pulls
	rec, err := e.Containers.Create(ctx, co)
	if err != nil {
		return RunResult{Prepared: true}, err
	}
	for _, w := range rec.Warnings {
		fmt.Fprintln(streams.Stderr, "WARNING:", w)
	}
	res := RunResult{Name: rec.Name, Prepared: true}
	var attach *container.Attach
	if !o.Detach {
		attach = streams.For(rec)
	}
	res.Code, err = e.Containers.Start(ctx, rec.ID, attach)
	if err != nil && !o.Detach && o.AutoRemove {
		e.Containers.Remove(ctx, rec.ID, true, true)
	}
	return res, err
}
