package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/volumes"
)

// machine is an in-memory machine for the engine's unit tests: its
// containers, networks, volumes and images, as the interfaces of parts.go
// promise them, with every call that changes something recorded in order
// ("create p-web-1", "network create p_default"), as docker compose's
// backend tests record the calls to a mocked Docker API.
type machine struct {
	mu         sync.Mutex
	calls      []string
	containers map[string]*record.Entry // by ID
	networks   map[string]netns.Network // by name
	volumes    map[string]volumes.Volume
	images     map[string]bool
	// fail makes the call of that name (as recorded) fail with its error
	fail map[string]error
	// on runs after the call of that name is recorded (a cancel, say)
	on map[string]func()

	Processes // none of the tests runs a process: a call panics
}

func newMachine() *machine {
	return &machine{containers: map[string]*record.Entry{}, networks: map[string]netns.Network{}, volumes: map[string]volumes.Volume{},
		images: map[string]bool{}, fail: map[string]error{}, on: map[string]func(){}}
}

// engine is an engine of a fresh root acting on the machine.
func (f *machine) engine(t *testing.T) *Engine {
	return &Engine{root: t.TempDir(), containers: f, processes: f, volumes: fakeVolumes{f}, images: fakeImages{f},
		networks: func() (Networks, func(), error) { return fakeNetworks{f}, func() {}, nil }}
}

// call records a call and says how it goes.
func (f *machine) call(ctx context.Context, what string) error {
	f.mu.Lock()
	f.calls = append(f.calls, what)
	err, hook := f.fail[what], f.on[what]
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// recorded are the calls so far.
func (f *machine) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// member adds a container of project p's service as up made it: its
// labels, config hash (that of the service in proj, or hash when given)
// and image; running or exited.
func (f *machine) member(proj *project.Project, service string, n int, hash string, running bool) {
	s := proj.Services[service]
	if hash == "" {
		hash, _ = project.ServiceHash(s)
	}
	name := ContainerName(proj.Name, service, s.ContainerName, n)
	labels := map[string]string{LabelProject: proj.Name, LabelService: service, LabelNumber: strconv.Itoa(n), LabelOneoff: "False",
		LabelHash: hash, LabelDependsOn: dependsOnLabel(s)}
	st := record.State{Status: record.Exited}
	if running {
		st = record.State{Status: record.Running, StartedAt: time.Now()}
	}
	img := proj.ImageName(s)
	f.images[img] = true
	f.containers[name+"-id"] = &record.Entry{Record: record.Record{ID: name + "-id", Name: name, Image: img, ImageID: "id-" + img,
		Config: record.Config{Labels: labels}}, State: st}
}

func (f *machine) find(ref string) (*record.Entry, error) {
	for _, c := range f.containers {
		if c.Record.ID == ref || c.Record.Name == ref {
			return c, nil
		}
	}
	return nil, errclass.New(errclass.ErrNotFound, "no such container: %s", ref)
}

// act records the call of what on the container ref, and changes it with
// change when it succeeds.
func (f *machine) act(ctx context.Context, what, ref string, change func(*record.Entry)) error {
	f.mu.Lock()
	c, err := f.find(ref)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if err := f.call(ctx, what+" "+c.Record.Name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	change(c)
	return nil
}

func (f *machine) List(context.Context) ([]record.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []record.Entry
	for _, id := range slices.Sorted(maps.Keys(f.containers)) {
		out = append(out, *f.containers[id])
	}
	return out, nil
}

func (f *machine) Get(_ context.Context, ref string) (record.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.find(ref)
	if err != nil {
		return record.Entry{}, err
	}
	return *c, nil
}

func (f *machine) Create(ctx context.Context, o container.CreateOptions) (*record.Record, error) {
	if err := f.call(ctx, "create "+o.Name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.find(o.Name); err == nil {
		return nil, errclass.New(errclass.ErrConflict, "the name %s is taken", o.Name)
	}
	rec := record.Record{ID: o.Name + "-id", Name: o.Name, Image: o.Image, ImageID: "id-" + o.Image, Config: record.Config{Labels: o.Labels}}
	f.containers[rec.ID] = &record.Entry{Record: rec, State: record.State{Status: record.Created}}
	return &rec, nil
}

func (f *machine) Start(ctx context.Context, ref string, _ *container.Attach) (int, error) {
	return 0, f.act(ctx, "start", ref, func(c *record.Entry) {
		c.State = record.State{Status: record.Running, StartedAt: time.Now()}
	})
}

func (f *machine) stopped(c *record.Entry) {
	if c.State.Running() {
		c.State.Status, c.State.Stopped = record.Exited, true
	}
}

func (f *machine) Stop(ctx context.Context, ref string, _ time.Duration, _ string) error {
	return f.act(ctx, "stop", ref, f.stopped)
}

func (f *machine) Halt(ctx context.Context, ref string, _ time.Duration, _ string) error {
	return f.act(ctx, "halt", ref, f.stopped)
}

func (f *machine) Kill(ctx context.Context, ref string, sig string) error {
	return f.act(ctx, "kill", ref, f.stopped)
}

func (f *machine) Pause(ctx context.Context, ref string) error {
	return f.act(ctx, "pause", ref, func(c *record.Entry) { c.State.Status = record.Paused })
}

func (f *machine) Unpause(ctx context.Context, ref string) error {
	return f.act(ctx, "unpause", ref, func(c *record.Entry) { c.State.Status = record.Running })
}

func (f *machine) Remove(ctx context.Context, ref string, force, vols bool) error {
	what := "remove"
	if vols {
		what = "remove -v"
	}
	return f.act(ctx, what, ref, func(c *record.Entry) { delete(f.containers, c.Record.ID) })
}

func (f *machine) Restore(ctx context.Context, ref string) error {
	return f.act(ctx, "restore", ref, func(c *record.Entry) { c.State.Status = record.Running })
}

func (f *machine) Wait(_ context.Context, ref string) (int, error) {
	c, err := f.Get(context.Background(), ref)
	return c.State.ExitCode, err
}

func (f *machine) WaitHealthy(ctx context.Context, ref string) error { return nil }

func (f *machine) WaitRunning(ctx context.Context, ref string, settle time.Duration) error {
	return nil
}

type fakeNetworks struct{ f *machine }

func (n fakeNetworks) Get(_ context.Context, ref string) (netns.Network, error) {
	n.f.mu.Lock()
	defer n.f.mu.Unlock()
	if nw, ok := n.f.networks[ref]; ok {
		return nw, nil
	}
	return netns.Network{}, errclass.New(errclass.ErrNotFound, "network %s not found", ref)
}

func (n fakeNetworks) List(context.Context) ([]netns.Network, error) {
	n.f.mu.Lock()
	defer n.f.mu.Unlock()
	return slices.SortedFunc(maps.Values(n.f.networks), func(a, b netns.Network) int { return strings.Compare(a.Name, b.Name) }), nil
}

func (n fakeNetworks) Create(ctx context.Context, o netns.CreateOptions) error {
	if err := n.f.call(ctx, "network create "+o.Name); err != nil {
		return err
	}
	n.f.mu.Lock()
	defer n.f.mu.Unlock()
	n.f.networks[o.Name] = netns.Network{Name: o.Name, ID: o.Name, Labels: o.Labels}
	return nil
}

func (n fakeNetworks) Ensure(context.Context, netns.Network) (bool, error) { return false, nil }

func (n fakeNetworks) Remove(ctx context.Context, ref string) error {
	if err := n.f.call(ctx, "network remove "+ref); err != nil {
		return err
	}
	n.f.mu.Lock()
	defer n.f.mu.Unlock()
	delete(n.f.networks, ref)
	return nil
}

func (n fakeNetworks) CheckFirewall(context.Context) error { return nil }

type fakeVolumes struct{ f *machine }

func (v fakeVolumes) Get(_ context.Context, name string) (volumes.Volume, error) {
	v.f.mu.Lock()
	defer v.f.mu.Unlock()
	if vol, ok := v.f.volumes[name]; ok {
		return vol, nil
	}
	return volumes.Volume{}, errclass.New(errclass.ErrNotFound, "no such volume: %s", name)
}

func (v fakeVolumes) List(context.Context) ([]volumes.Volume, error) {
	v.f.mu.Lock()
	defer v.f.mu.Unlock()
	return slices.SortedFunc(maps.Values(v.f.volumes), func(a, b volumes.Volume) int { return strings.Compare(a.Name, b.Name) }), nil
}

func (v fakeVolumes) Create(ctx context.Context, name string, o volumes.CreateOptions) error {
	if err := v.f.call(ctx, "volume create "+name); err != nil {
		return err
	}
	v.f.mu.Lock()
	defer v.f.mu.Unlock()
	v.f.volumes[name] = volumes.Volume{Name: name, Labels: o.Labels}
	return nil
}

func (v fakeVolumes) Remove(ctx context.Context, name string) error {
	if err := v.f.call(ctx, "volume remove "+name); err != nil {
		return err
	}
	v.f.mu.Lock()
	defer v.f.mu.Unlock()
	delete(v.f.volumes, name)
	return nil
}

type fakeImages struct{ f *machine }

func (i fakeImages) ID(ref string) string {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	if i.f.images[ref] {
		return "id-" + ref
	}
	return ""
}

func (i fakeImages) Tagged(string) time.Time { return time.Time{} }

func (i fakeImages) Ensure(ctx context.Context, ref, policy string, _ api.Progress) error {
	if err := i.f.call(ctx, fmt.Sprintf("image %s %s", policy, ref)); err != nil {
		return err
	}
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	i.f.images[ref] = true
	return nil
}

func (i fakeImages) Push(ctx context.Context, ref string, _ api.Progress) error {
	return i.f.call(ctx, "image push "+ref)
}

func (i fakeImages) Size(ref string) (int64, error) {
	if i.ID(ref) == "" {
		return -1, nil
	}
	return 1, nil
}

func (i fakeImages) Remove(ctx context.Context, ref string) error {
	return i.f.call(ctx, "image remove "+ref)
}

// changes is an event source that reports the changes given, in order,
// and then waits for ctx.
type changes []Change

func (cs changes) Watch(ctx context.Context, fn func(Change) error) error {
	for _, c := range cs {
		if err := fn(c); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// Stats records the containers sampled: a row each, named.
func (f *machine) Stats(ctx context.Context, refs []string, _ time.Duration) ([]proc.StatsRow, error) {
	var rows []proc.StatsRow
	for _, ref := range refs {
		c, err := f.Get(ctx, ref)
		if err != nil {
			return nil, err
		}
		rows = append(rows, proc.StatsRow{ID: c.Record.ID, Name: c.Record.Name})
	}
	f.call(ctx, "stats "+strings.Join(refs, " "))
	return rows, nil
}
