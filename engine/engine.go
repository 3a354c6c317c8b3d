package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/netns"
)

// Error classes.
var (
	ErrInvalid  = errors.New("invalid")
	ErrNotFound = errors.New("not found")
	// ErrFailed: a service or a dependency did not come up.
	ErrFailed = errors.New("failed")
)

// Engine acts on the compose projects of one berth root.
type Engine struct {
	root       string
	Containers *container.Manager
	// Progress gets compose's progress lines (" Container web-1  Started");
	// nil discards them.
	Progress io.Writer
	// Warn gets warnings about the project, one line each; nil discards.
	Warn func(string)
	// Pulls shows image pulls; nil shows nothing.
	Pulls image.Progress
	mu    sync.Mutex // serialises Progress lines from parallel services
}

// New is the engine of the berth root, acting through m.
func New(root string, m *container.Manager) *Engine {
	return &Engine{root: root, Containers: m}
}

// event prints one progress line, as docker compose's plain progress does:
// the kind of object, its name, and what happened to it.
func (e *Engine) event(kind, name, what string) {
	if e.Progress == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.Progress, " %s %s  %s\n", kind, name, what)
}

func (e *Engine) warn(s string) {
	if e.Warn != nil {
		e.Warn(s)
	}
}

// networks opens the root's networks on the host.
func (e *Engine) networks() (*netns.Store, func(), error) {
	return netns.OpenHost(filepath.Join(e.root, "networks"))
}

// Member is one container of a project.
type Member struct {
	container.Entry
	Service string
	Number  int
	Oneoff  bool
}

// Members are the containers of the project name, found by their labels,
// by service then number (one-off containers last); services, if given,
// restrict them.
func (e *Engine) Members(ctx context.Context, name string, services ...string) ([]Member, error) {
	all, err := e.Containers.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Member
	for _, m := range members(all, name) {
		if len(services) > 0 && !slices.Contains(services, m.Service) {
			continue
		}
		out = append(out, Member{Entry: m.Entry, Service: m.Service, Number: m.Number, Oneoff: m.Oneoff})
	}
	slices.SortFunc(out, func(a, b Member) int {
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

// Projects are the names of every project with containers, and the
// containers of each.
func (e *Engine) Projects(ctx context.Context) (map[string][]Member, error) {
	all, err := e.Containers.List(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]Member{}
	for _, c := range all {
		if name := c.Record.Config.Labels[LabelProject]; name != "" {
			for _, m := range members([]container.Entry{c}, name) {
				out[name] = append(out[name], Member{Entry: m.Entry, Service: m.Service, Number: m.Number, Oneoff: m.Oneoff})
			}
		}
	}
	return out, nil
}
