package api

import (
	"io"
	"os"
	"time"

	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/netns/port"
	"github.com/berth-dev/berth/volumes/mount"
)

// UpOptions shape Up, as docker compose up's flags do.
type UpOptions struct {
	// Services are those asked for; none is every service. Their
	// dependencies come too unless NoDeps.
	Services []string
	NoDeps   bool
	// ForceRecreate recreates every container; NoRecreate none, even
	// changed ones. AlwaysRecreateDeps recreates the dependencies of the
	// services asked for.
	ForceRecreate, NoRecreate, AlwaysRecreateDeps bool
	// RenewAnonVolumes gives recreated containers fresh anonymous volumes
	// (-V) instead of their predecessors'.
	RenewAnonVolumes bool
	// Scale overrides services' scale (--scale SERVICE=N).
	Scale         map[string]int
	RemoveOrphans bool
	// NoStart creates containers without starting them (create, up
	// --no-start).
	NoStart bool
	// DryRun prints the plan, a reason per container, and changes nothing.
	DryRun bool
	// Parallel bounds the services acted on at once; 0 is unbounded.
	Parallel int
	// Timeout (seconds) stops containers being recreated or scaled down;
	// nil: each container's own stop_grace_period.
	Timeout *int
	// QuietPull pulls without showing the progress (--quiet-pull).
	QuietPull bool
	// Pull, "always", "missing" or "never" (--pull), is every service's
	// pull_policy for this up; "" keeps each service's own.
	Pull string
	// Build is how the images of services with build: are built: each
	// whose image is missing, or whose pull_policy is build (up --build
	// sets it). NoBuild builds none (--no-build): a missing image fails.
	Build   BuildOptions
	NoBuild bool
}

// AttachOptions shape an attached up (Attach).
type AttachOptions struct {
	// Services are the services followed for their exits (all, if
	// none); Attach, if given, are the only ones whose logs are shown,
	// NoAttach those whose logs are not.
	Services, Attach, NoAttach []string
	// Abort stops the project when any container stops; AbortFailure
	// when one fails. ExitFrom's exit code is then the result.
	Abort, AbortFailure bool
	ExitFrom            string
	Timestamps          bool
	// Timeout is the stop's grace period (nil: each container's own).
	Timeout *int
	// Interrupts are the user's Ctrl-Cs; nil: the process's SIGINT and
	// SIGTERM, which Attach then receives itself. The first stops the
	// project gracefully, the second kills it; Attach returns only once
	// the containers it stopped have exited, with 130.
	Interrupts <-chan os.Signal
}

// DownOptions shape Down, as docker compose down's flags do.
type DownOptions struct {
	// Services, when given, limits down to their containers; networks
	// and volumes then stay.
	Services []string
	// Volumes removes the project's named volumes and its containers'
	// anonymous ones (-v).
	Volumes bool
	// RemoveOrphans also removes containers of services the files no
	// longer have; without the files (known empty) every container of the
	// project goes anyway.
	RemoveOrphans bool
	// Known are the services of the project's files; nil when down runs
	// from labels alone.
	Known   []string
	Timeout *int
	// Images, "local" or "all" (--rmi), removes, once the containers are
	// gone, the images they ran: all of them, or only those without a
	// name of their own (compose's <project>-<service> of a built image).
	Images string
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

// LogsOptions shape Logs.
type LogsOptions struct {
	proc.LogOptions
	// Index, if not 0, is the one replica of each service shown.
	Index int
}

// StatsOptions shape Stats.
type StatsOptions struct {
	// Services narrow the containers sampled (nil: all the project's).
	Services []string
	// All samples the stopped containers too, as compose stats -a does.
	All bool
	// Interval is the time between the two samples whose difference is
	// the CPU use; 0 is a second, as docker stats takes.
	Interval time.Duration
}

// RunOptions shape a one-off container (compose run): the service's
// settings, with these over them.
type RunOptions struct {
	Name       string
	Cmd        []string
	Entrypoint []string // nil: the service's
	Env        []string
	Labels     map[string]string
	User       string
	WorkDir    string
	Volumes    []mount.Spec
	Ports      []port.Mapping
	// ServicePorts publishes the service's own ports too; without it a
	// one-off publishes none of them, as compose does.
	ServicePorts bool
	// UseAliases gives the container the service's network aliases.
	UseAliases bool
	NoDeps     bool
	AutoRemove bool
	// Detach starts the container and returns (Run), as run -d does.
	Detach      bool
	TTY         bool
	Interactive bool
	CapAdd      []string
	CapDrop     []string
	Parallel    int
	// Build is how the service's image is built when it must be (see
	// UpOptions.Build).
	Build BuildOptions
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

// WatchOptions shape Watch.
type WatchOptions struct {
	// Stdout and Stderr get the output of sync+exec commands.
	Stdout, Stderr io.Writer
	// Log gets a line for each thing the watch does.
	Log func(string)
}

// PullOptions shape Pull, as docker compose pull's flags do.
type PullOptions struct {
	// Policy is --policy: "" pulls every image, unless its service's
	// pull_policy is never or missing, which pull only a missing one;
	// "missing" pulls only missing ones; "always" every one, unless its
	// pull_policy is never.
	Policy string
	// IgnoreFailures makes a service's failure a warning, and the pull
	// goes on with the next.
	IgnoreFailures bool
	// Progress shows the pulls (nil: nothing).
	Progress Progress
}

// PushOptions shape Push.
type PushOptions struct {
	// IgnoreFailures makes a service's failure a warning, and the push
	// goes on with the next.
	IgnoreFailures bool
	// Progress shows the pushes (nil: nothing).
	Progress Progress
}

// ImageSummary is the image of one of a project's containers, as compose
// images lists it.
type ImageSummary struct {
	// Container is the container's name.
	Container string
	// Repository and Tag are the reference the container was made from,
	// split as Docker shows them (the tag latest when there is none).
	Repository, Tag string
	// ID is the image's config digest (sha256:...).
	ID string
	// Size is the unpacked size in bytes; -1 when the image is no longer
	// here.
	Size int64
}
