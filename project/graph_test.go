package project

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// graphOf builds a graph from a service -> config map without loading a file,
// so that edges compose-go would normalise into depends_on are also seen raw.
func graphOf(t *testing.T, services map[string]types.ServiceConfig) (*Graph, error) {
	t.Helper()
	p := &types.Project{Name: "g", Services: types.Services{}}
	for name, s := range services {
		s.Name = name
		p.Services[name] = s
	}
	return NewGraph(p)
}

func dep(condition string, required bool) types.ServiceDependency {
	return types.ServiceDependency{Condition: condition, Required: required}
}

// svc makes a service config; its fields live in embedded structs that
// composite literals cannot name directly.
func svc(set func(s *types.ServiceConfig)) types.ServiceConfig {
	var s types.ServiceConfig
	set(&s)
	return s
}

// needs makes a service that depends_on the given services.
func needs(to ...string) types.ServiceConfig {
	return svc(func(s *types.ServiceConfig) {
		s.DependsOn = types.DependsOnConfig{}
		for _, n := range to {
			s.DependsOn[n] = dep("", true)
		}
	})
}

func TestGraphEdges(t *testing.T) {
	g, err := graphOf(t, map[string]types.ServiceConfig{
		"db":    {},
		"cache": {},
		"vpn":   {},
		"data":  {},
		"web": svc(func(s *types.ServiceConfig) {
			s.DependsOn = types.DependsOnConfig{"db": dep(types.ServiceConditionHealthy, true)}
			s.Links = []string{"cache:c"}
		}),
		"sidecar": svc(func(s *types.ServiceConfig) {
			s.NetworkMode, s.Ipc, s.Pid = "service:vpn", "service:vpn", "service:web"
		}),
		"backup": svc(func(s *types.ServiceConfig) { s.VolumesFrom = []string{"data:ro", "container:outside"} }),
		"opt": svc(func(s *types.ServiceConfig) {
			s.DependsOn = types.DependsOnConfig{"absent": dep(types.ServiceConditionStarted, false)}
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		service string
		want    []string // "to kind,kind condition shares"
	}{
		{"web", []string{"cache links service_started false", "db depends_on service_healthy false"}},
		{"sidecar", []string{"vpn ipc,network_mode service_started true", "web pid service_started true"}},
		{"backup", []string{"data volumes_from service_started true"}},
		{"opt", nil},
		{"db", nil},
	}
	for _, tc := range tests {
		var got []string
		for _, e := range g.Needs(tc.service) {
			got = append(got, strings.Join([]string{e.To, strings.Join(e.Kinds, ","), e.Condition, map[bool]string{true: "true", false: "false"}[e.SharesNamespace()]}, " "))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s needs %q, want %q", tc.service, got, tc.want)
		}
	}
	if got := g.Dependents("vpn"); !slices.Equal(got, []string{"sidecar"}) {
		t.Errorf("dependents of vpn = %v, want [sidecar]", got)
	}
	if got := g.WithDependencies("sidecar"); !slices.Equal(got, []string{"cache", "db", "sidecar", "vpn", "web"}) {
		t.Errorf("WithDependencies(sidecar) = %v", got)
	}
	if got := g.WithDependents("db"); !slices.Equal(got, []string{"db", "sidecar", "web"}) {
		t.Errorf("WithDependents(db) = %v", got)
	}
}

func TestGraphErrors(t *testing.T) {
	tests := []struct {
		name     string
		services map[string]types.ServiceConfig
		class    error
		want     string
	}{
		{"two-service cycle", map[string]types.ServiceConfig{
			"a": needs("b"),
			"b": needs("a"),
		}, ErrCycle, "dependency cycle: a -> b -> a"},
		{"cycle through network_mode", map[string]types.ServiceConfig{
			"app":   svc(func(s *types.ServiceConfig) { s.NetworkMode = "service:proxy" }),
			"proxy": needs("web"),
			"web":   svc(func(s *types.ServiceConfig) { s.Links = []string{"app"} }),
		}, ErrCycle, "dependency cycle: app -> proxy -> web -> app"},
		{"self", map[string]types.ServiceConfig{"a": svc(func(s *types.ServiceConfig) { s.VolumesFrom = []string{"a"} })}, ErrCycle, "dependency cycle: a -> a"},
		{"required and missing", map[string]types.ServiceConfig{"a": svc(func(s *types.ServiceConfig) { s.Ipc = "service:ghost" })}, ErrNotFound, `service "a" depends on undefined service "ghost" (ipc)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := graphOf(t, tc.services)
			if !errors.Is(err, tc.class) || err.Error() != tc.want {
				t.Errorf("err = %v, want %v %q", err, tc.class, tc.want)
			}
		})
	}
}

// chain: web -> api -> db, worker -> db, and a lone service.
func chain(t *testing.T) *Graph {
	g, err := graphOf(t, map[string]types.ServiceConfig{
		"db":     {},
		"api":    needs("db"),
		"web":    needs("api"),
		"worker": needs("db"),
		"lone":   {},
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// recorder records when each visit starts and ends, and the most visits seen
// running at once.
type recorder struct {
	mu           sync.Mutex
	started      map[string]int
	finished     map[string]int
	clock        int
	running, max atomic.Int32
}

func newRecorder() *recorder {
	return &recorder{started: map[string]int{}, finished: map[string]int{}}
}

func (r *recorder) visit(ctx context.Context, name string) error {
	if n := r.running.Add(1); n > r.max.Load() {
		r.max.Store(n)
	}
	r.mu.Lock()
	r.clock++
	r.started[name] = r.clock
	r.mu.Unlock()
	time.Sleep(5 * time.Millisecond) // let independent visits overlap
	r.running.Add(-1)
	r.mu.Lock()
	r.clock++
	r.finished[name] = r.clock
	r.mu.Unlock()
	return nil
}

// before fails the test unless a finished before b started.
func (r *recorder) before(t *testing.T, a, b string) {
	t.Helper()
	if r.finished[a] == 0 || r.started[b] == 0 || r.finished[a] > r.started[b] {
		t.Errorf("%s (finished at %d) should finish before %s starts (at %d)", a, r.finished[a], b, r.started[b])
	}
}

func TestWalkOrder(t *testing.T) {
	g := chain(t)
	r := newRecorder()
	if err := g.Walk(context.Background(), WalkOptions{}, r.visit); err != nil {
		t.Fatal(err)
	}
	r.before(t, "db", "api")
	r.before(t, "api", "web")
	r.before(t, "db", "worker")
	if len(r.finished) != 5 {
		t.Errorf("visited %d services, want 5", len(r.finished))
	}
	if r.max.Load() < 2 {
		t.Errorf("at most %d visits ran at once; independent services (db, lone) should overlap", r.max.Load())
	}

	r = newRecorder()
	if err := g.Walk(context.Background(), WalkOptions{Reverse: true}, r.visit); err != nil {
		t.Fatal(err)
	}
	r.before(t, "web", "api")
	r.before(t, "api", "db")
	r.before(t, "worker", "db")
}

func TestWalkParallelBound(t *testing.T) {
	services := map[string]types.ServiceConfig{}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		services[n] = types.ServiceConfig{}
	}
	g, err := graphOf(t, services)
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 3} {
		r := newRecorder()
		if err := g.Walk(context.Background(), WalkOptions{Parallel: limit}, r.visit); err != nil {
			t.Fatal(err)
		}
		if got := int(r.max.Load()); got > limit || len(r.finished) != 8 {
			t.Errorf("limit %d: %d ran at once, %d visited", limit, got, len(r.finished))
		}
	}
}

func TestWalkSubset(t *testing.T) {
	g := chain(t)
	r := newRecorder()
	if err := g.Walk(context.Background(), WalkOptions{Services: g.WithDependencies("web")}, r.visit); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(r.finished); !slices.Equal(got, []string{"api", "db", "web"}) {
		t.Errorf("visited %v, want [api db web]", got)
	}
	err := g.Walk(context.Background(), WalkOptions{Services: []string{"nosuch"}}, r.visit)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown service: err = %v, want ErrNotFound", err)
	}
}

func TestWalkStopsOnError(t *testing.T) {
	g := chain(t)
	boom := errors.New("boom")
	var visited sync.Map
	err := g.Walk(context.Background(), WalkOptions{Parallel: 1}, func(ctx context.Context, name string) error {
		visited.Store(name, true)
		if name == "api" {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if _, ok := visited.Load("web"); ok {
		t.Error("web was visited although api, which it needs, failed")
	}
}

func TestWalkCancelled(t *testing.T) {
	g := chain(t)
	ctx, cancel := context.WithCancel(context.Background())
	var count atomic.Int32
	err := g.Walk(ctx, WalkOptions{Parallel: 1}, func(ctx context.Context, name string) error {
		if count.Add(1) == 1 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || count.Load() != 1 {
		t.Errorf("err = %v after %d visits, want context.Canceled after 1", err, count.Load())
	}
}

// TestWalkSiblingsCancelled: a failure stops the visits under way, and
// what they return for being stopped is not reported: the walk's error is
// the failure alone, not a context.Canceled a caller would take for an
// interrupt.
func TestWalkSiblingsCancelled(t *testing.T) {
	g := chain(t)
	boom := errors.New("boom")
	started := make(chan struct{})
	err := g.Walk(context.Background(), WalkOptions{}, func(ctx context.Context, name string) error {
		switch name {
		case "lone": // a sibling still at work when db fails
			close(started)
			<-ctx.Done()
			return fmt.Errorf("waiting for lone: %w", ctx.Err())
		case "db":
			<-started
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || errors.Is(err, context.Canceled) || err.Error() != "boom" {
		t.Errorf("err = %v, want boom alone", err)
	}
}
