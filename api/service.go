package api

import (
	"context"

	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/watch"
)

// Service is what the CLI does to a compose project, as docker compose's
// api.Service is: every project command goes through it.
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
// "Container app-1  Started") through the implementation's reporter, and
// returns the first real error, classed with errclass (ErrNotFound,
// ErrConflict, ErrState, ...) so that the CLI picks the exit code from
// the class. An operation on several containers does them in dependency
// order where order matters (Up, Start, Stop, Down) and in parallel where
// the graph allows. Operations that run a process and wait for it (Exec,
// Run, AttachContainer, WaitExits) return its exit code beside the
// error. ctx ends every operation except an attached up's following
// (Attach), which the user's interrupts end (see AttachOptions).
type Service interface {
	// Up creates, recreates and starts the project's containers, as
	// docker compose up -d does; Attach then follows them.
	Up(ctx context.Context, p *project.Project, o UpOptions) error
	// Attach follows the project's containers as an attached up does,
	// and returns the up's exit code.
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
	// Members are the project's containers (ps). Projects are the
	// projects with a running container (ls), or, with
	Members(ctx context.Context, project string, services ...string) ([]Member, error)
	// all, every project with a container, in the order of their names.
	Projects(ctx context.Context, all bool) ([]Stack, error)
	// ServiceContainer is a service's container: replica index, or the
	// first when index is 0.
	ServiceContainer(ctx context.Context, project, service string, index int) (Member, error)
	Logs(ctx context.Context, project string, services []string, o LogsOptions, c LogConsumer) error
	Events(ctx context.Context, project string, services []string, emit func(Event) error) error
	Top(ctx context.Context, project string, services []string) ([]ContainerTop, error)
	// Stats samples the resource use of the project's containers once
	// (compose stats): a row each, nil when none is running (or, with
	// o.All, when there is none). The caller redraws by calling again.
	Stats(ctx context.Context, project string, o StatsOptions) ([]proc.StatsRow, error)
	// Exec runs a command in a service's container.
	Exec(ctx context.Context, project, service string, index int, o proc.ExecOptions) (int, error)
	// Run runs a one-off container of a service (compose run): with
	// o.Detach it returns once started; else attached, once it exits.
	Run(ctx context.Context, p *project.Project, service string, o RunOptions, streams proc.Streams) (RunResult, error)
	// AttachContainer attaches to a service's running container.
	AttachContainer(ctx context.Context, project, service string, index int, o proc.AttachOptions) (int, error)
	// Copy copies between a service's container (SERVICE:PATH, either
	// side) and the host.
	Copy(ctx context.Context, project, src, dst string, index int, o proc.CopyOptions) error
	// WaitExits waits for each of the services' containers to exit, in
	// turn, and hands each code to each.
	WaitExits(ctx context.Context, project string, services []string, each func(Member, int) error) error
	// Pull pulls the images of the services that name one (compose
	// pull), in the order of their names, each as o.Policy and its
	// pull_policy say.
	Pull(ctx context.Context, p *project.Project, services []string, o PullOptions) error
	// Push pushes the images of the services that name one (compose
	// push), in the order of their names.
	Push(ctx context.Context, p *project.Project, services []string, o PushOptions) error
	// Images are the images of the project's containers (compose
	// images), one for each container.
	Images(ctx context.Context, project string, services []string) ([]ImageSummary, error)
	// Build builds the images of the services (all that have build:, when
	// none are named) as their build: sections say, each named
	// <project>-<service> unless image: names it, and returns the image
	// IDs by service (compose build).
	Build(ctx context.Context, p *project.Project, services []string, o BuildOptions) (map[string]string, error)
	// Watch keeps the containers in step with compose's develop.watch
	// rules until ctx ends.
	Watch(ctx context.Context, p *project.Project, rules []watch.Rule, o WatchOptions) error
}

// Progress receives what a pull is doing, as image.Progress: the same
// interface literal, so the same type, without this package naming
// image's.
type Progress = interface {
	Layer(id, status string, current, total int64)
	Line(text string)
}
