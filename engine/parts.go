package engine

import (
	"context"
	"io"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/volumes"
)

// The engine acts on containers, networks, volumes and images only
// through the interfaces below, as docker compose's backend acts through
// the Docker API client: New wires this machine's (local.go), and the
// engine's unit tests wire fakes that record the order of the calls. Each
// interface says what a method must do and which class of error
// (errclass) it returns, since the engine decides by class: a network
// that is not there (ErrNotFound) is made, a volume still in use
// (ErrConflict) is left. A reference (ref) names a container by its ID or
// its name.

// Containers is the lifecycle of containers.
type Containers interface {
	// List is every container with its current state (a container a
	// reboot stopped is listed so: exited, 255).
	List(ctx context.Context) ([]record.Entry, error)
	// Get is one container; ErrNotFound when there is none.
	Get(ctx context.Context, ref string) (record.Entry, error)
	// Create makes a container from o, with o.Pull as its image policy,
	// and returns its record (with the warnings of its creation). It
	// fails whole: a container that could not be made leaves nothing
	// behind. ErrConflict: the name is taken; ErrNotFound: no such image
	// (pull never); ErrInvalid: o is refused.
	Create(ctx context.Context, o container.CreateOptions) (*record.Record, error)
	// Start starts a created or exited container and returns once it
	// runs; with attach, attached to its streams, once it has exited,
	// with its exit code. A start that fails leaves the container made
	// but not running. ErrState: it runs already.
	Start(ctx context.Context, ref string, attach *container.Attach) (int, error)
	// Stop sends the container's stop signal (or sig), then SIGKILL
	// after timeout (negative: its own grace period), and returns once
	// it has exited and its monitor has cleaned up. One that does not
	// run is left as it is.
	Stop(ctx context.Context, ref string, timeout time.Duration, sig string) error
	// Halt is Stop for a container about to be removed: it returns at
	// the exit, without waiting for the clean-up (Remove waits for it).
	Halt(ctx context.Context, ref string, timeout time.Duration, sig string) error
	// Kill sends sig to a running container; ErrState if it does not run.
	Kill(ctx context.Context, ref string, sig string) error
	// Pause freezes a running container, Unpause thaws a paused one;
	// ErrState otherwise.
	Pause(ctx context.Context, ref string) error
	Unpause(ctx context.Context, ref string) error
	// Remove removes a container that does not run, or with force one
	// that does (killed first); with volumes, its anonymous volumes too.
	// ErrNotFound: there is none; ErrConflict: it runs and not force.
	Remove(ctx context.Context, ref string, force, volumes bool) error
	// Restore starts again, after a reboot, a container that its restart
	// policy restores.
	Restore(ctx context.Context, ref string) error
	// Wait returns the exit code of the container's current run once it
	// has exited (at once if it does not run), or ctx's error.
	Wait(ctx context.Context, ref string) (int, error)
	// WaitHealthy returns once the container's healthcheck passes; an
	// error (classed ErrFailed) once it is unhealthy or has exited.
	WaitHealthy(ctx context.Context, ref string) error
	// WaitRunning returns once the container has run for settle; an
	// error if it exits first with a code other than 0.
	WaitRunning(ctx context.Context, ref string, settle time.Duration) error
}

// Processes is what runs in, and comes out of, a container that runs.
// Each method fails with ErrNotFound when there is no such container and
// ErrState when it does not run (Logs and Copy excepted).
type Processes interface {
	// Exec runs o's command in the container and returns its exit code.
	Exec(ctx context.Context, ref string, o proc.ExecOptions) (int, error)
	// Attach attaches o's streams to the container until it exits, and
	// returns its exit code.
	Attach(ctx context.Context, ref string, o proc.AttachOptions) (int, error)
	// Logs writes the container's output as o asks (with Follow, until
	// the container has ended for good or ctx ends).
	Logs(ctx context.Context, ref string, o proc.LogOptions, stdout, stderr io.Writer) error
	// Top lists the container's processes.
	Top(ctx context.Context, ref string, psArgs []string) (proc.Processes, error)
	// Stats samples the containers' resource use twice, interval apart.
	Stats(ctx context.Context, refs []string, interval time.Duration) ([]proc.StatsRow, error)
	// Copy copies between a container (CONTAINER:PATH) and the host, as
	// container cp does.
	Copy(ctx context.Context, src, dst string, o proc.CopyOptions) error
	// RemoveFiles removes paths in the container's filesystem.
	RemoveFiles(ctx context.Context, ref string, paths []string) error
}

// Networks are the machine's networks, opened for one operation of the
// engine (see Engine.networks) and closed after it.
type Networks interface {
	// Get is the network named or with ID ref; ErrNotFound when there
	// is none.
	Get(ctx context.Context, ref string) (netns.Network, error)
	// List is every network.
	List(ctx context.Context) ([]netns.Network, error)
	// Create makes a network (its record, bridge and firewall rules).
	// ErrConflict: the name, or the subnet, is taken; ErrInvalid: o is
	// refused.
	Create(ctx context.Context, o netns.CreateOptions) error
	// Ensure makes again what a reboot took of a recorded network (its
	// bridge, its address), and says whether it had to.
	Ensure(ctx context.Context, n netns.Network) (bool, error)
	// Remove removes a network; ErrConflict when a running container is
	// still on it (it stays), ErrNotFound when there is none.
	Remove(ctx context.Context, ref string) error
	// CheckFirewall puts back berth's firewall rules that another
	// program (a firewall restarted) took away.
	CheckFirewall(ctx context.Context) error
}

// Volumes are the machine's named and anonymous volumes.
type Volumes interface {
	// Get is the volume; ErrNotFound when there is none.
	Get(ctx context.Context, name string) (volumes.Volume, error)
	// List is every volume.
	List(ctx context.Context) ([]volumes.Volume, error)
	// Create makes a volume; ErrInvalid: o is refused (another driver).
	Create(ctx context.Context, name string, o volumes.CreateOptions) error
	// Remove removes a volume no container uses; ErrConflict when one
	// does (the volume stays), ErrNotFound when there is none.
	Remove(ctx context.Context, name string) error
}

// Images are the machine's images.
type Images interface {
	// ID is the config digest of the local image ref names; "" when
	// there is none.
	ID(ref string) string
	// Tagged is when ref was last pulled, loaded or tagged here; zero
	// when there is no such ref.
	Tagged(ref string) time.Time
	// Ensure makes ref present as policy says: "always" pulls, "never"
	// only looks (ErrNotFound when absent), "missing" pulls when absent.
	// Registry failures are classed ErrUnavailable.
	Ensure(ctx context.Context, ref, policy string, progress api.Progress) error
	// Push uploads the image ref names to its registry.
	Push(ctx context.Context, ref string, progress api.Progress) error
	// Size is the unpacked size of the local image ref names; -1 when
	// there is none.
	Size(ref string) (int64, error)
	// Remove untags ref, and deletes the image when no other name holds
	// it; ErrConflict when a container uses it (it stays), ErrNotFound
	// when there is no such image.
	Remove(ctx context.Context, ref string) error
}

// Events is a source of container state changes: what Engine.Events
// turns into docker compose's events, and what follows a project's new
// containers (logs -f, an attached up).
type Events interface {
	// Watch calls fn first with each container there is (Existing set),
	// then with each change of a container's record or state as it
	// happens (a container's new state may skip states that passed in
	// between), and once with Gone set when a container is removed,
	// until ctx ends (nil) or fn fails (its error).
	Watch(ctx context.Context, fn func(Change) error) error
}

// Change is one report of an event source: a container as it is now.
type Change struct {
	ID string
	// Entry is the container now; zero when Gone.
	Entry record.Entry
	// Existing marks the reports of the containers there were when the
	// watch began.
	Existing bool
	Gone     bool
}
