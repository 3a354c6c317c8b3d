package engine

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/record"

	"github.com/berth-dev/berth/errclass"
)

// Error classes.
var (
	ErrInvalid  = errclass.Sentinel(errclass.ErrInvalid, "invalid")
	ErrNotFound = errclass.Sentinel(errclass.ErrNotFound, "not found")
	// ErrFailed: a service or a dependency did not come up.
	ErrFailed = errclass.Sentinel(errclass.ErrFailed, "failed")
)

// Engine acts on the compose projects of one berth root.
type Engine struct {
	root string
	// what the engine acts through (parts.go)
	containers Containers
	processes  Processes
	// networks opens the networks for one operation; done closes them
	networks func() (n Networks, done func(), err error)
	volumes  Volumes
	images   Images
	builds   Builds
	events   Events
	// Report gets each change of an object: its kind ("Container",
	// "Network", "Volume"), name and new status ("Started"); nil discards
	// them. Calls may come from several goroutines at once; they are
	// serialised.
	Report func(kind, name, status string)
	// Warn gets warnings about the project, one line each; nil discards.
	Warn func(string)
	// Pulls shows image pulls; nil shows nothing.
	Pulls image.Progress
	mu    sync.Mutex // serialises Report calls from parallel services
}

// New is the engine of the berth root, acting through m and the root's
// networks, volumes and images (local.go).
func New(root string, m *container.Manager) *Engine {
	return &Engine{root: root, containers: localContainers{m}, processes: m, networks: openNetworks(root, m),
		volumes: localVolumes{m}, images: localImages{root, m}, builds: localBuilds{root, m}, events: localEvents{root, m}}
}

// event reports what happened to an object: the kind of object, its
// name, and its new status.
func (e *Engine) event(kind, name, what string) {
	if e.Report == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Report(kind, name, what)
}

func (e *Engine) warn(s string) {
	if e.Warn != nil {
		e.Warn(s)
	}
}

// lock holds the project's lock until the returned function is called, so
// that two commands changing one project (two ups, an up and a down) take
// turns, as DESIGN's "a file lock per project" asks.
func (e *Engine) lock(ctx context.Context, project string) (func(), error) {
	dir := filepath.Join(e.root, "projects")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return disk.Lock(ctx, filepath.Join(dir, project+".lock"), false)
}

// Members are the containers of the project name, found by their labels,
// by service then number (one-off containers last); services, if given,
// restrict them.
func (e *Engine) Members(ctx context.Context, name string, services ...string) ([]api.Member, error) {
	all, err := e.containers.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []api.Member
	for _, m := range members(all, name) {
		if len(services) > 0 && !slices.Contains(services, m.Service) {
			continue
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b api.Member) int {
		if a.Oneoff != b.Oneoff {
			if a.Oneoff {
				return 1
			}
			return -1
		}
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		return a.Number - b.Number
	})
	return out, nil
}

// Projects are the projects with a running container, or with all any
// container, each with its containers counted by status, as compose ls
// lists them.
func (e *Engine) Projects(ctx context.Context, all bool) ([]api.Stack, error) {
	entries, err := e.containers.List(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string][]api.Member{}
	for _, c := range entries {
		if name := c.Record.Config.Labels[LabelProject]; name != "" {
			byName[name] = append(byName[name], members([]record.Entry{c}, name)...)
		}
	}
	var out []api.Stack
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		counts := map[string]int{}
		files := ""
		for _, m := range byName[name] {
			files = m.Record.Config.Labels[LabelConfigFiles]
			// compose counts what it lists: running containers, all
			// with -a
			if all || m.State.Running() {
				counts[string(m.State.Status)]++
			}
		}
		if len(counts) == 0 {
			continue
		}
		var parts []string
		for _, st := range slices.Sorted(maps.Keys(counts)) {
			parts = append(parts, fmt.Sprintf("%s(%d)", st, counts[st]))
		}
		out = append(out, api.Stack{Name: name, Status: strings.Join(parts, ", "), ConfigFiles: files})
	}
	return out, nil
}
