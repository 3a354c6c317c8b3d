package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/volumes"
)

// upProject: web needs api needs db; cache needs nothing; db has a named
// volume.
const upProject = `name: p
services:
  db: {image: "db:1", volumes: ["data:/data"]}
  api: {image: "api:1", depends_on: [db]}
  web: {image: "web:1", depends_on: [api]}
  cache: {image: "cache:1"}
volumes:
  data: {}
`

var errBoom = errors.New("boom")

// made puts the project's network and volume on the machine, as an
// earlier up left them.
func (f *machine) made(p *project.Project) {
	for _, n := range p.Networks {
		f.networks[n.Name] = netns.Network{Name: n.Name, ID: n.Name, Labels: map[string]string{LabelProject: p.Name}}
	}
	for _, v := range p.Volumes {
		f.volumes[v.Name] = volumes.Volume{Name: v.Name, Labels: map[string]string{LabelProject: p.Name}}
	}
}

// upAll puts every service's container on the machine, running and up
// to date, but for the services in changed (made from another
// configuration) and stopped (not running).
func (f *machine) upAll(p *project.Project, changed, stopped []string) {
	f.made(p)
	for _, s := range p.ServiceNames() {
		hash := ""
		if slices.Contains(changed, s) {
			hash = "an older configuration"
		}
		f.member(p, s, 1, hash, !slices.Contains(stopped, s))
	}
}

// TestUpOrder: what Up asks of the machine, in order, for each state it
// meets: images first, then networks and volumes, then each service in
// dependency order, a dependency started before its dependents are
// created; only the services whose configuration changed are recreated,
// the others left as they are; a failure (a create, a start, a pull, a
// setting berth refuses) returns its error and makes nothing that would
// have come after it; a cancelled context stops the work.
func TestUpOrder(t *testing.T) {
	pulls := []string{"image missing api:1", "image missing cache:1", "image missing db:1", "image missing web:1"}
	fresh := slices.Concat(pulls, []string{"network create p_default", "volume create p_data"})
	cases := []struct {
		name  string
		yaml  string
		setup func(f *machine, p *project.Project, cancel func())
		o     api.UpOptions
		want  []string
		// err, when set, is what Up must fail with (errors.Is), and
		// errText a part of its message
		err     error
		errText string
	}{
		{name: "nothing yet: made in dependency order",
			want: slices.Concat(fresh, []string{"create p-cache-1", "start p-cache-1", "create p-db-1", "start p-db-1",
				"create p-api-1", "start p-api-1", "create p-web-1", "start p-web-1"})},
		{name: "all up to date: nothing changes",
			setup: func(f *machine, p *project.Project, _ func()) { f.upAll(p, nil, nil) },
			want:  pulls},
		{name: "a dependent changed: only it is recreated",
			setup: func(f *machine, p *project.Project, _ func()) { f.upAll(p, []string{"web"}, nil) },
			want:  slices.Concat(pulls, []string{"stop p-web-1", "remove p-web-1", "create p-web-1", "start p-web-1"})},
		{name: "a dependency changed: it is recreated, its dependents kept",
			setup: func(f *machine, p *project.Project, _ func()) { f.upAll(p, []string{"db"}, nil) },
			want:  slices.Concat(pulls, []string{"stop p-db-1", "remove p-db-1", "create p-db-1", "start p-db-1"})},
		{name: "two changed: recreated in dependency order",
			setup: func(f *machine, p *project.Project, _ func()) { f.upAll(p, []string{"web", "db"}, nil) },
			want: slices.Concat(pulls, []string{"stop p-db-1", "remove p-db-1", "create p-db-1", "start p-db-1",
				"stop p-web-1", "remove p-web-1", "create p-web-1", "start p-web-1"})},
		{name: "--pull always: every service's image pulled, nothing recreated for it",
			setup: func(f *machine, p *project.Project, _ func()) { f.upAll(p, nil, nil) },
			o:     api.UpOptions{Pull: "always"},
			want:  []string{"image always api:1", "image always cache:1", "image always db:1", "image always web:1"}},
		{name: "a stopped one is started, not recreated",
			setup: func(f *machine, p *project.Project, _ func()) { f.upAll(p, nil, []string{"api"}) },
			want:  slices.Concat(pulls, []string{"start p-api-1"})},
		{name: "--force-recreate: every one, in dependency order",
			setup: func(f *machine, p *project.Project, _ func()) { f.upAll(p, nil, nil) },
			o:     api.UpOptions{ForceRecreate: true},
			want: slices.Concat(pulls, []string{"stop p-cache-1", "remove p-cache-1", "create p-cache-1", "start p-cache-1",
				"stop p-db-1", "remove p-db-1", "create p-db-1", "start p-db-1", "stop p-api-1", "remove p-api-1", "create p-api-1", "start p-api-1",
				"stop p-web-1", "remove p-web-1", "create p-web-1", "start p-web-1"})},
		{name: "scaled down: the highest replica stops and goes with its volumes",
			setup: func(f *machine, p *project.Project, _ func()) { f.upAll(p, nil, nil); f.member(p, "web", 2, "", true) },
			want:  slices.Concat(pulls, []string{"stop p-web-2", "remove -v p-web-2"})},
		{name: "a create fails: its error, and nothing after it",
			setup: func(f *machine, p *project.Project, _ func()) { f.fail["create p-api-1"] = errBoom },
			want: slices.Concat(fresh, []string{"create p-cache-1", "start p-cache-1", "create p-db-1", "start p-db-1",
				"create p-api-1"}),
			err: errBoom, errText: `service "api"`},
		{name: "a start fails: its dependents are not made",
			setup: func(f *machine, p *project.Project, _ func()) { f.fail["start p-db-1"] = errBoom },
			want:  slices.Concat(fresh, []string{"create p-cache-1", "start p-cache-1", "create p-db-1", "start p-db-1"}),
			err:   ErrFailed, errText: `service "db": starting p-db-1: boom`},
		{name: "a recreation's create fails: the dependents stay as they are",
			setup: func(f *machine, p *project.Project, _ func()) {
				f.upAll(p, []string{"db", "web"}, nil)
				f.fail["create p-db-1"] = errBoom
			},
			want: slices.Concat(pulls, []string{"stop p-db-1", "remove p-db-1", "create p-db-1"}),
			err:  errBoom},
		{name: "a pull fails: nothing is made",
			setup: func(f *machine, p *project.Project, _ func()) { f.fail["image missing db:1"] = errBoom },
			want:  []string{"image missing api:1", "image missing cache:1", "image missing db:1"},
			err:   errBoom, errText: `service "db"`},
		{name: "a setting refused: nothing is pulled or made",
			yaml: strings.Replace(upProject, "volumes:\n", "  bad: {image: \"bad:1\", userns_mode: keep-id}\nvolumes:\n", 1),
			want: nil, err: ErrInvalid, errText: `service "bad": userns_mode "keep-id" is not supported`},
		{name: "cancelled: what was not begun is not",
			setup: func(f *machine, p *project.Project, cancel func()) { f.on["start p-db-1"] = cancel },
			want:  slices.Concat(fresh, []string{"create p-cache-1", "start p-cache-1", "create p-db-1", "start p-db-1"}),
			err:   context.Canceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			yaml := upProject
			if c.yaml != "" {
				yaml = c.yaml
			}
			p := load(t, yaml)
			f := newMachine()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.setup != nil {
				c.setup(f, p, cancel)
			}
			o := c.o
			o.Parallel = 1 // one service at a time: one order to compare
			err := f.engine(t).Up(ctx, p, o)
			switch {
			case c.err == nil && err != nil:
				t.Fatalf("up: %v", err)
			case c.err != nil && !errors.Is(err, c.err):
				t.Errorf("up: %v, want %v", err, c.err)
			case c.err != nil && !strings.Contains(err.Error(), c.errText):
				t.Errorf("up: %q, want it to say %q", err, c.errText)
			}
			if got := f.recorded(); !slices.Equal(got, c.want) {
				t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
			for _, s := range p.Services {
				if s.PullPolicy != "" { // --pull is for this up: the caller's project keeps its own
					t.Errorf("service %s: the caller's pull_policy became %q", s.Name, s.PullPolicy)
				}
			}
		})
	}
}

// downProject: web needs api needs db, which has a named volume.
const downProject = `name: p
services:
  db: {image: "db:1", volumes: ["data:/data"]}
  api: {image: "api:1", depends_on: [db]}
  web: {image: "web:1", depends_on: [api]}
volumes:
  data: {}
`

// TestDownOrder: Down stops dependents before what they depend on, from
// the containers' labels alone; removes the containers once all are
// stopped, the networks after the stops, the volumes (-v) and images
// (--rmi) after the containers; a failed stop returns its error and
// removes nothing; a cancelled context stops the work; what is not the
// project's stays.
func TestDownOrder(t *testing.T) {
	halts := []string{"halt p-web-1", "halt p-api-1", "halt p-db-1"}
	removes := []string{"remove p-web-1", "remove p-api-1", "remove p-db-1"}
	cases := []struct {
		name string
		o    api.DownOptions
		// fail and cancelAt name a call that fails, or cancels the context
		fail, cancelAt string
		// want are the calls but the networks', in order; networks
		// theirs, each after every stop
		want, networks []string
		err            error
	}{
		{name: "down", want: slices.Concat(halts, removes), networks: []string{"network remove p_default"}},
		{name: "down -v: volumes after the containers", o: api.DownOptions{Volumes: true},
			want:     slices.Concat(halts, []string{"remove -v p-web-1", "remove -v p-api-1", "remove -v p-db-1", "volume remove p_data"}),
			networks: []string{"network remove p_default"}},
		{name: "down --rmi all: images after the containers", o: api.DownOptions{Images: "all"},
			want:     slices.Concat(halts, removes, []string{"image remove api:1", "image remove db:1", "image remove web:1"}),
			networks: []string{"network remove p_default"}},
		{name: "down of one service: its containers only", o: api.DownOptions{Services: []string{"web"}},
			want: []string{"halt p-web-1", "remove p-web-1"}},
		{name: "a stop fails: its error, nothing removed", fail: "halt p-api-1",
			want: []string{"halt p-web-1", "halt p-api-1"}, err: errBoom},
		{name: "cancelled: what was not begun is not", cancelAt: "halt p-web-1",
			want: []string{"halt p-web-1"}, err: context.Canceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := load(t, downProject)
			f := newMachine()
			f.upAll(p, nil, nil)
			// another project's, which down leaves
			f.volumes["q_data"] = volumes.Volume{Name: "q_data", Labels: map[string]string{LabelProject: "q"}}
			f.networks["q_default"] = netns.Network{Name: "q_default", ID: "q_default", Labels: map[string]string{LabelProject: "q"}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.fail != "" {
				f.fail[c.fail] = errBoom
			}
			if c.cancelAt != "" {
				f.on[c.cancelAt] = cancel
			}
			err := f.engine(t).Down(ctx, "p", c.o)
			if c.err == nil && err != nil || c.err != nil && !errors.Is(err, c.err) {
				t.Fatalf("down: %v, want %v", err, c.err)
			}
			got := f.recorded()
			// the networks go while the containers are removed, in
			// any order with them, but never before the last stop
			var others, networks []string
			for _, call := range got {
				if strings.HasPrefix(call, "network ") {
					networks = append(networks, call)
					continue
				}
				if strings.HasPrefix(call, "halt ") && len(networks) > 0 {
					t.Errorf("%s after a network's removal: %q", call, got)
				}
				others = append(others, call)
			}
			if !slices.Equal(others, c.want) {
				t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(others, "\n  "), strings.Join(c.want, "\n  "))
			}
			if !slices.Equal(networks, c.networks) {
				t.Errorf("networks: %q, want %q", networks, c.networks)
			}
		})
	}
}

// TestStopStartOrder: stop takes dependents first, start dependencies
// first, from the containers' labels; only what runs is stopped and only
// what does not is started.
func TestStopStartOrder(t *testing.T) {
	p := load(t, downProject)
	f := newMachine()
	f.upAll(p, nil, []string{"api"})
	e := f.engine(t)
	ctx := context.Background()
	if err := e.Stop(ctx, "p", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx, "p", nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"stop p-web-1", "stop p-db-1", "start p-db-1", "start p-api-1", "start p-web-1"}
	if got := f.recorded(); !slices.Equal(got, want) {
		t.Errorf("calls: %q, want %q", got, want)
	}
}

// TestStats: compose stats samples the project's running containers (of
// the services asked for), all of them with -a, and none when nothing
// runs.
func TestStats(t *testing.T) {
	p := load(t, downProject)
	f := newMachine()
	f.upAll(p, nil, []string{"api"})
	f.member(load(t, "name: q\nservices:\n  web: {image: \"web:1\"}\n"), "web", 1, "", true)
	e := f.engine(t)
	for _, c := range []struct {
		o    api.StatsOptions
		want string
	}{
		{api.StatsOptions{}, "p-db-1 p-web-1"},
		{api.StatsOptions{All: true}, "p-api-1 p-db-1 p-web-1"},
		{api.StatsOptions{Services: []string{"web"}}, "p-web-1"},
		{api.StatsOptions{Services: []string{"api"}}, ""},
	} {
		rows, err := e.Stats(context.Background(), "p", c.o)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range rows {
			names = append(names, r.Name)
		}
		if got := strings.Join(names, " "); got != c.want {
			t.Errorf("stats %+v: %q, want %q", c.o, got, c.want)
		}
	}
	if got := f.recorded(); len(got) != 3 {
		t.Errorf("samples taken: %q, want 3 (none when nothing runs)", got)
	}
}
