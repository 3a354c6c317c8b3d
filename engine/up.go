package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/project"
)

// Action is what the plan does to one container.
type Action string

const (
	Create   Action = "create"
	Recreate Action = "recreate"
	Start    Action = "start"
	Keep     Action = "keep"
	Remove   Action = "remove"
	Restart  Action = "restart"
)

// Step is one container's part of the plan, with the reason for it.
type Step struct {
	Service   string
	Container string
	Number    int
	Action    Action
	Reason    string
	old       *api.Member
}

// Up makes the project run as its files say: networks and volumes first,
// then each service's containers in dependency order (independent services
// at once), each created, recreated, started, kept or removed as Plan
// decides, after the conditions of its depends_on hold. A failure stops
// what had not begun and leaves what already runs running, as compose
// does; a second Up after the fix completes the rest.
func (e *Engine) Up(ctx context.Context, p *project.Project, o api.UpOptions) error {
	// before anything: an unknown name would otherwise become a service
	// with no settings, its image "<project>-"
	if err := p.CheckServices(o.Services...); err != nil {
		return err
	}
	graph, err := project.NewGraph(p.Project)
	if err != nil {
		return err
	}
	if o.Pull != "" {
		if p, err = withPullPolicy(p, o.Pull); err != nil {
			return err
		}
	}
	if !o.DryRun {
		unlock, err := e.lock(ctx, p.Name)
		if err != nil {
			return err
		}
		defer unlock()
	}
	for name, n := range o.Scale {
		s, err := p.GetService(name)
		if err != nil {
			return errclass.New(ErrNotFound, "no such service: %s", name)
		}
		// the files' own scale with a container_name compose-go refuses
		if n > 1 && s.ContainerName != "" {
			return errclass.New(ErrInvalid, "service %q: can't scale to %d: container_name %q must be unique", name, n, s.ContainerName)
		}
	}
	all, err := e.containers.List(ctx)
	if err != nil {
		return err
	}
	current := members(all, p.Name)
	if err := e.orphans(ctx, p, current, o.RemoveOrphans, o.DryRun); err != nil {
		return err
	}
	services := o.Services
	if len(services) == 0 {
		services = graph.Services()
	}
	asked := slices.Clone(services)
	if !o.NoDeps {
		services = graph.WithDependencies(services...)
	}
	// every service's settings are converted once, for all its
	// containers, before anything is made or pulled, so that a setting
	// berth refuses (a relative mount target, an address outside its
	// subnet) stops the up with nothing half-made; warnings come when the
	// containers are made
	conv := make(map[string]converted, len(services))
	for _, name := range services {
		c, err := convert(p, p.Services[name])
		if err != nil {
			return err
		}
		conv[name] = c
	}
	// images first, pulled or built, as compose pulls and builds before
	// it makes anything: a missing image or a failed build fails the up
	// with nothing made
	if !o.DryRun {
		pulls := e.Pulls
		if o.QuietPull {
			pulls = nil
		}
		for _, name := range obtainOrder(p, graph, services) {
			if err := e.obtain(ctx, p, p.Services[name], o.NoBuild, o.Build, pulls); err != nil {
				return serviceError(name, err)
			}
		}
	}
	if err := e.ensureNetworks(ctx, p, o.DryRun); err != nil {
		return err
	}
	if err := e.ensureVolumes(ctx, p, o.DryRun); err != nil {
		return err
	}
	recreated := map[string]bool{}
	var mu sync.Mutex // recreated is shared by the walk's visits
	return graph.Walk(ctx, project.WalkOptions{Parallel: o.Parallel, Services: services}, func(ctx context.Context, name string) error {
		s := p.Services[name]
		if !o.DryRun && !o.NoStart {
			if err := e.waitDependencies(ctx, p, s); err != nil {
				return err
			}
		}
		force, reason := o.ForceRecreate, "forced (--force-recreate)"
		if !force && o.AlwaysRecreateDeps && !slices.Contains(asked, name) {
			force, reason = true, "a dependency of what was asked for (--always-recreate-deps)"
		}
		mu.Lock()
		for _, edge := range graph.Needs(name) {
			if edge.SharesNamespace() && recreated[edge.To] {
				force, reason = true, fmt.Sprintf("%s, whose namespace it shares, was recreated", edge.To)
			}
		}
		mu.Unlock()
		steps, err := e.plan(p, s, current, o, force, reason)
		if err != nil {
			return err
		}
		// depends_on restart: true: a recreated dependency restarts the
		// containers that are kept
		mu.Lock()
		for dep, cfg := range s.DependsOn {
			if cfg.Restart && recreated[dep] {
				for i := range steps {
					if steps[i].Action == Keep {
						steps[i].Action, steps[i].Reason = Restart, fmt.Sprintf("%s was recreated (depends_on restart: true)", dep)
					}
				}
			}
		}
		mu.Unlock()
		for _, st := range steps {
			if st.Action == Recreate {
				mu.Lock()
				recreated[name] = true
				mu.Unlock()
			}
		}
		return e.apply(ctx, p, s, conv[name], steps, o)
	})
}

// orphans reports, or with remove removes, the project's containers of
// services its files no longer have.
func (e *Engine) orphans(ctx context.Context, p *project.Project, current []api.Member, remove, dry bool) error {
	known := map[string]bool{}
	for _, name := range append(p.ServiceNames(), p.DisabledServiceNames()...) {
		known[name] = true
	}
	var found []api.Member
	for _, m := range current {
		if !known[m.Service] && !m.Oneoff {
			found = append(found, m)
		}
	}
	if len(found) == 0 {
		return nil
	}
	if !remove {
		var names []string
		for _, m := range found {
			names = append(names, m.Record.Name)
		}
		e.warn(fmt.Sprintf("Found orphan containers (%s) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", strings.Join(names, ", ")))
		return nil
	}
	for _, m := range found {
		if dry {
			e.event("Container", m.Record.Name, "Removed (dry run): orphan")
			continue
		}
		e.event("Container", m.Record.Name, "Removing")
		if err := e.containers.Remove(ctx, m.Record.ID, true, false); err != nil {
			return err
		}
		e.event("Container", m.Record.Name, "Removed")
	}
	return nil
}

// plan decides, for each container the service should have and each it
// has, what to do and why.
func (e *Engine) plan(p *project.Project, s types.ServiceConfig, current []api.Member, o api.UpOptions, force bool, forceReason string) ([]Step, error) {
	hash, err := project.ServiceHash(s)
	if err != nil {
		return nil, err
	}
	want := s.GetScale()
	if n, ok := o.Scale[s.Name]; ok {
		want = n
	}
	var mine []api.Member
	for _, m := range current {
		if m.Service == s.Name && !m.Oneoff {
			mine = append(mine, m)
		}
	}
	slices.SortFunc(mine, func(a, b api.Member) int { return a.Number - b.Number })
	imageID := e.images.ID(p.ImageName(s))
	var steps []Step
	used := map[int]bool{}
	for i := range mine {
		m := &mine[i]
		st := Step{Service: s.Name, Container: m.Record.Name, Number: m.Number, old: m}
		switch {
		case i >= want:
			st.Action, st.Reason = Remove, fmt.Sprintf("scaled down to %d", want)
		case force:
			st.Action, st.Reason = Recreate, forceReason
		case m.Hash != hash && !o.NoRecreate:
			st.Action, st.Reason = Recreate, e.changes(p.Name, s)
		case imageID != "" && m.Record.ImageID != imageID && !o.NoRecreate:
			st.Action, st.Reason = Recreate, "image updated"
		case !m.State.Running() && !o.NoStart:
			st.Action, st.Reason = Start, "not running"
		default:
			st.Action, st.Reason = Keep, "up to date"
		}
		if st.Action != Remove {
			used[m.Number] = true
		}
		steps = append(steps, st)
	}
	// new containers take the lowest free numbers
	for n, active := 1, len(used); active < want; n++ {
		if !used[n] {
			steps = append(steps, Step{Service: s.Name, Container: ContainerName(p.Name, s.Name, s.ContainerName, n), Number: n, Action: Create, Reason: "missing"})
			used[n] = true
			active++
		}
	}
	return steps, nil
}

// apply carries out a service's steps, its containers made with c's
// settings.
func (e *Engine) apply(ctx context.Context, p *project.Project, s types.ServiceConfig, c converted, steps []Step, o api.UpOptions) error {
	if o.DryRun {
		// what would be created says what the real one would warn of
		for _, st := range steps {
			if st.Action == Create || st.Action == Recreate {
				for _, w := range c.warnings {
					e.warn(w)
				}
			}
			e.event("Container", st.Container, fmt.Sprintf("%s (dry run): %s", st.Action, st.Reason))
		}
		return nil
	}
	timeout := time.Duration(-1)
	if o.Timeout != nil {
		timeout = time.Duration(*o.Timeout) * time.Second
	}
	for _, st := range steps {
		switch st.Action {
		case Keep:
			e.event("Container", st.Container, "Running")
		case Start:
			if err := e.start(ctx, st.Container, s.Name, s.PostStart); err != nil {
				return err
			}
		case Restart:
			e.preStop(ctx, *st.old)
			e.event("Container", st.Container, "Restarting")
			if err := e.containers.Stop(ctx, st.old.Record.ID, timeout, ""); err != nil {
				return err
			}
			if err := e.start(ctx, st.Container, s.Name, s.PostStart); err != nil {
				return err
			}
		case Remove:
			e.preStop(ctx, *st.old)
			e.event("Container", st.Container, "Stopping")
			if err := e.containers.Stop(ctx, st.old.Record.ID, timeout, ""); err != nil {
				return err
			}
			e.event("Container", st.Container, "Removing")
			if err := e.containers.Remove(ctx, st.old.Record.ID, true, true); err != nil {
				return err
			}
			e.event("Container", st.Container, "Removed")
		case Create, Recreate:
			anon := map[string]string{}
			if st.Action == Recreate && !o.RenewAnonVolumes {
				for _, u := range st.old.Record.Volumes {
					if u.Anonymous {
						anon[u.Target] = u.Name
					}
				}
			}
			if h := e.handedOver(p.Name, st.Container); st.Action == Create && h != nil && !o.RenewAnonVolumes {
				anon = h // a recreation cut short: see handover.go
			}
			// the successor's settings are made before its predecessor
			// goes: a service that cannot be converted leaves it running
			co := c.replica(p, s, st.Number, anon)
			for _, w := range c.warnings {
				e.warn(w)
			}
			files, err := e.fileMounts(p, s, co.Name)
			if err != nil {
				return err
			}
			co.Mounts = append(co.Mounts, files...)
			// the image was pulled (or found) once for the service
			// above: a replica's create must not ask the registry again
			if !o.DryRun {
				co.Pull = "never"
			}
			if id := e.images.ID(co.Image); id != "" {
				co.Labels[LabelImage] = id
			}
			if st.Action == Recreate {
				co.Labels[LabelReplace] = st.old.Record.ID
				e.event("Container", st.Container, "Recreate")
				if len(anon) > 0 {
					if err := e.handOver(p.Name, st.Container, anon); err != nil {
						return err
					}
				}
				e.preStop(ctx, *st.old)
				if err := e.containers.Stop(ctx, st.old.Record.ID, timeout, ""); err != nil {
					return err
				}
				// the anonymous volumes stay for the successor, unless -V
				if err := e.containers.Remove(ctx, st.old.Record.ID, true, o.RenewAnonVolumes); err != nil {
					return err
				}
			} else {
				e.event("Container", st.Container, "Creating")
			}
			crash.Point("up-handed-over")
			rec, err := e.containers.Create(ctx, co)
			if err != nil {
				return fmt.Errorf("service %q: %w", s.Name, err)
			}
			e.handedOverDone(p.Name, st.Container)
			for _, w := range rec.Warnings {
				e.warn(fmt.Sprintf("service %q: %s", s.Name, w))
			}
			crash.Point("up-created")
			if st.Action == Recreate {
				e.event("Container", st.Container, "Recreated")
			} else {
				e.event("Container", st.Container, "Created")
			}
			if !o.NoStart {
				if err := e.start(ctx, st.Container, s.Name, s.PostStart); err != nil {
					return err
				}
			}
		}
	}
	return e.remember(p.Name, s)
}

func (e *Engine) start(ctx context.Context, name, service string, postStart []types.ServiceHook) error {
	e.event("Container", name, "Starting")
	if _, err := e.containers.Start(ctx, name, nil); err != nil {
		return errclass.Wrap(ErrFailed, err, fmt.Sprintf("service %q: starting %s: %v", service, name, err))
	}
	e.event("Container", name, "Started")
	return e.runHooks(ctx, "post_start", name, name, postStart)
}

// waitDependencies blocks until the conditions of the service's depends_on
// hold: started (the walk's order already says so), completed
// successfully (each container of the dependency exited 0), or healthy.
func (e *Engine) waitDependencies(ctx context.Context, p *project.Project, s types.ServiceConfig) error {
	for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
		cfg := s.DependsOn[dep]
		if _, err := p.GetService(dep); err != nil {
			if !cfg.Required {
				e.warn(fmt.Sprintf("service %q: optional dependency %q is not in the project", s.Name, dep))
				continue
			}
			return errclass.New(ErrNotFound, "service %q depends on undefined service %q", s.Name, dep)
		}
		if cfg.Condition == types.ServiceConditionStarted || cfg.Condition == "" {
			continue
		}
		ms, err := e.Members(ctx, p.Name, dep)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Oneoff {
				continue
			}
			switch cfg.Condition {
			case types.ServiceConditionCompletedSuccessfully:
				e.event("Container", m.Record.Name, "Waiting")
				code, err := e.containers.Wait(ctx, m.Record.ID)
				if err != nil {
					return err
				}
				if code != 0 {
					return errclass.New(ErrFailed, "service %q didn't complete successfully: exit %d", dep, code)
				}
				e.event("Container", m.Record.Name, "Exited")
			case types.ServiceConditionHealthy:
				e.event("Container", m.Record.Name, "Waiting")
				if err := e.containers.WaitHealthy(ctx, m.Record.ID); err != nil {
					return errclass.Wrap(ErrFailed, err, fmt.Sprintf("dependency failed to start: %v", err))
				}
				e.event("Container", m.Record.Name, "Healthy")
			default:
				return errclass.New(ErrInvalid, "service %q: unknown depends_on condition %q", s.Name, cfg.Condition)
			}
		}
	}
	return nil
}

// remember keeps the service's configuration as it was applied, so that a
// later plan can say what changed (<root>/projects/<project>/<service>.json).
func (e *Engine) remember(projectName string, s types.ServiceConfig) error {
	data, err := project.HashedForm(s)
	if err != nil {
		return err
	}
	path := filepath.Join(e.root, "projects", projectName, s.Name+".json")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return disk.WriteFile(path, data, 0o600)
}

// changes says what changed in a service since it was last applied:
// "environment.FOO changed, image changed", or "configuration changed"
// when berth has no earlier copy.
func (e *Engine) changes(projectName string, s types.ServiceConfig) string {
	before, err := os.ReadFile(filepath.Join(e.root, "projects", projectName, s.Name+".json"))
	if err != nil {
		return "configuration changed"
	}
	after, err := project.HashedForm(s)
	if err != nil {
		return "configuration changed"
	}
	var a, b map[string]any
	if json.Unmarshal(before, &a) != nil || json.Unmarshal(after, &b) != nil {
		return "configuration changed"
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(union(a, b))) {
		if fmt.Sprint(a[k]) == fmt.Sprint(b[k]) {
			continue
		}
		am, aok := a[k].(map[string]any)
		bm, bok := b[k].(map[string]any)
		if (aok || a[k] == nil) && (bok || b[k] == nil) {
			for _, sub := range slices.Sorted(maps.Keys(union(am, bm))) {
				if fmt.Sprint(am[sub]) != fmt.Sprint(bm[sub]) {
					out = append(out, k+"."+sub+" changed")
				}
			}
			continue
		}
		out = append(out, k+" changed")
	}
	if len(out) == 0 {
		return "configuration changed"
	}
	return strings.Join(out, ", ")
}

func union(a, b map[string]any) map[string]any {
	out := map[string]any{}
	maps.Copy(out, a)
	maps.Copy(out, b)
	return out
}

// withPullPolicy is p with policy (up --pull) as every service's
// pull_policy: a copy, so that the caller's project keeps its own.
func withPullPolicy(p *project.Project, policy string) (*project.Project, error) {
	q := *p
	var err error
	q.Project, err = p.WithServicesTransform(func(_ string, s types.ServiceConfig) (types.ServiceConfig, error) {
		s.PullPolicy = policy
		return s, nil
	})
	return &q, err
}
