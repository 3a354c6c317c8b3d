package project

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/errclass"
)

// Edge kinds: the ways a service can need another. Kinds other than
// KindDependsOn and KindLinks mean the two share a kernel namespace or mounts,
// so recreating the dependency forces recreating the dependent.
const (
	KindDependsOn   = "depends_on"
	KindLinks       = "links"
	KindNetworkMode = "network_mode"
	KindIpc         = "ipc"
	KindPid         = "pid"
	KindUts         = "uts"
	KindCgroup      = "cgroup"
	KindVolumesFrom = "volumes_from"
)

// Edge says that From needs To before it can start.
type Edge struct {
	From, To string
	// Condition is depends_on's condition: service_started, service_healthy
	// or service_completed_successfully.
	Condition string
	// Required false lets From start when To is absent or fails to start.
	Required bool
	// Restart: restarting To restarts From.
	Restart bool
	// Kinds are the keys that made the edge, sorted.
	Kinds []string
}

// SharesNamespace reports whether From joins a namespace or the mounts of To.
func (e Edge) SharesNamespace() bool {
	for _, k := range e.Kinds {
		if k != KindDependsOn && k != KindLinks {
			return true
		}
	}
	return false
}

// Graph is the service dependency graph of a project. It is acyclic:
// NewGraph refuses a project with a cycle.
type Graph struct {
	names      []string
	needs      map[string][]Edge   // service -> what it needs, sorted by To
	dependents map[string][]string // service -> who needs it, sorted
}

// NewGraph builds the graph of p's services. An edge to a service the project
// does not have is an error when required, and dropped when not (a
// `required: false` dependency, or one disabled by a profile).
func NewGraph(p *types.Project) (*Graph, error) {
	g := &Graph{needs: map[string][]Edge{}, dependents: map[string][]string{}}
	for name := range p.Services {
		g.names = append(g.names, name)
	}
	slices.Sort(g.names)
	for _, name := range g.names {
		s := p.Services[name]
		edges := map[string]*Edge{}
		add := func(to, kind, condition string, required, restart bool) {
			e, ok := edges[to]
			if !ok {
				e = &Edge{From: name, To: to, Condition: condition, Required: required, Restart: restart}
				edges[to] = e
			}
			if kind == KindDependsOn { // depends_on's own settings win over implied ones
				e.Condition, e.Required, e.Restart = condition, required, restart
			}
			if !slices.Contains(e.Kinds, kind) {
				e.Kinds = append(e.Kinds, kind)
			}
		}
		for to, d := range s.DependsOn {
			add(to, KindDependsOn, cmp.Or(d.Condition, types.ServiceConditionStarted), d.Required, d.Restart)
		}
		for _, l := range s.Links {
			to, _, _ := strings.Cut(l, ":")
			add(to, KindLinks, types.ServiceConditionStarted, true, true)
		}
		for kind, ref := range map[string]string{KindNetworkMode: s.NetworkMode, KindIpc: s.Ipc, KindPid: s.Pid, KindUts: s.Uts, KindCgroup: s.Cgroup} {
			if to, ok := strings.CutPrefix(ref, types.ServicePrefix); ok {
				add(to, kind, types.ServiceConditionStarted, true, true)
			}
		}
		for _, v := range s.VolumesFrom {
			if !strings.HasPrefix(v, types.ContainerPrefix) {
				to, _, _ := strings.Cut(v, ":")
				add(to, KindVolumesFrom, types.ServiceConditionStarted, true, false)
			}
		}
		for _, to := range sortedKeys(edges) {
			e := edges[to]
			if _, ok := p.Services[to]; !ok {
				if e.Required {
					return nil, errclass.New(ErrNotFound, "service %q depends on undefined service %q (%s)", name, to, strings.Join(e.Kinds, ", "))
				}
				continue
			}
			slices.Sort(e.Kinds)
			g.needs[name] = append(g.needs[name], *e)
			g.dependents[to] = append(g.dependents[to], name)
		}
	}
	for _, d := range g.dependents {
		slices.Sort(d)
	}
	if c := g.cycle(); c != nil {
		return nil, errclass.New(ErrCycle, "dependency cycle: %s", strings.Join(c, " -> "))
	}
	return g, nil
}

// Services returns every service name, sorted.
func (g *Graph) Services() []string { return slices.Clone(g.names) }

// Needs returns the edges from name to what it needs, sorted by target.
func (g *Graph) Needs(name string) []Edge { return slices.Clone(g.needs[name]) }

// Dependents returns the services that need name, sorted.
func (g *Graph) Dependents(name string) []string { return slices.Clone(g.dependents[name]) }

// WithDependencies returns names and everything they need, transitively, sorted.
func (g *Graph) WithDependencies(names ...string) []string {
	return g.closure(names, func(n string) []string {
		var out []string
		for _, e := range g.needs[n] {
			out = append(out, e.To)
		}
		return out
	})
}

// WithDependents returns names and everything that needs them, transitively, sorted.
func (g *Graph) WithDependents(names ...string) []string {
	return g.closure(names, func(n string) []string { return g.dependents[n] })
}

func (g *Graph) closure(names []string, next func(string) []string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, m := range next(n) {
			visit(m)
		}
	}
	for _, n := range names {
		visit(n)
	}
	return sortedKeys(seen)
}

// cycle returns a cycle as a path that starts and ends on the same service,
// or nil. Services are tried in name order so the same file always names the
// same cycle.
func (g *Graph) cycle() []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(string) []string
	visit = func(n string) []string {
		state[n] = onPath
		path = append(path, n)
		for _, e := range g.needs[n] {
			switch state[e.To] {
			case onPath:
				i := slices.Index(path, e.To)
				return append(slices.Clone(path[i:]), e.To)
			case unseen:
				if c := visit(e.To); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	for _, n := range g.names {
		if state[n] == unseen {
			if c := visit(n); c != nil {
				return c
			}
		}
	}
	return nil
}

// WalkOptions shape a Walk.
type WalkOptions struct {
	// Reverse visits a service only after everything that needs it: the
	// order for stop and down. The default visits a service only after
	// everything it needs: the order for create and start.
	Reverse bool
	// Parallel bounds how many visits run at once; zero or less is unbounded.
	Parallel int
	// Services restricts the walk to these services; nil walks all. Order is
	// kept among them; the caller decides whether to add dependencies
	// (WithDependencies) or dependents (WithDependents) first.
	Services []string
}

// Walk calls fn once per service, in dependency order, running independent
// services concurrently. A service is visited only after fn returned nil for
// every service it waits on. After the first error no new visit starts, the
// visits under way finish, and Walk returns every error that occurred, joined,
// the first first. A visit that ends because Walk cancelled it after another
// failed reports no error of its own: the user reads what failed, not that
// its siblings were stopped (and a caller does not take a cancelled sibling
// for an interrupt). A service waiting on a failed one is never visited.
func (g *Graph) Walk(ctx context.Context, o WalkOptions, fn func(ctx context.Context, service string) error) error {
	in := map[string]bool{}
	for _, n := range g.names {
		in[n] = o.Services == nil
	}
	for _, n := range o.Services {
		if !slices.Contains(g.names, n) {
			return errclass.New(ErrNotFound, "no such service: %s", n)
		}
		in[n] = true
	}
	waitsOn := func(n string) []string { // what n waits for in this direction
		if o.Reverse {
			return g.dependents[n]
		}
		var out []string
		for _, e := range g.needs[n] {
			out = append(out, e.To)
		}
		return out
	}
	unblocks := func(n string) []string {
		if o.Reverse {
			var out []string
			for _, e := range g.needs[n] {
				out = append(out, e.To)
			}
			return out
		}
		return g.dependents[n]
	}
	pending := map[string]int{}
	var ready []string
	for _, n := range g.names {
		if !in[n] {
			continue
		}
		for _, m := range waitsOn(n) {
			if in[m] {
				pending[n]++
			}
		}
		if pending[n] == 0 {
			ready = append(ready, n)
		}
	}

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	results := make(chan result)
	running := 0
	var errs []error
	for {
		for len(ready) > 0 && len(errs) == 0 && ctx.Err() == nil && (o.Parallel <= 0 || running < o.Parallel) {
			n := ready[0]
			ready = ready[1:]
			running++
			go func() { results <- result{n, fn(ctx, n)} }()
		}
		if running == 0 {
			break
		}
		r := <-results
		running--
		if r.err != nil {
			if len(errs) > 0 && parent.Err() == nil && errors.Is(r.err, context.Canceled) {
				continue // stopped because of errs[0]
			}
			errs = append(errs, r.err)
			cancel()
			continue
		}
		for _, m := range unblocks(r.name) {
			if !in[m] {
				continue
			}
			if pending[m]--; pending[m] == 0 {
				ready = append(ready, m)
			}
		}
	}
	if len(errs) == 0 && ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

// sortedKeys is the keys of m in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
