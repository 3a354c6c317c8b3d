package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/build"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/project"
)

// Builds is the image builder, as parts.go's interfaces are the rest of
// the machine.
type Builds interface {
	// Build builds the image o says and names it o.Tags; it returns its
	// ID. ErrInvalid: the Dockerfile or o is refused; ErrFailed: a step
	// failed. A build that fails leaves nothing, no name moved.
	Build(ctx context.Context, o build.Options) (string, error)
	// Push pushes the image ref names to the registry the name says and
	// returns the manifest digest the registry serves it by.
	Push(ctx context.Context, ref string, progress image.Progress) (string, error)
}

// localBuilds are package build's builds into the root's image store.
type localBuilds struct {
	root string
	m    *container.Manager
}

// Build builds, and then keeps the image the first name held before when
// the new one is the same (the same layers, the same config but for the
// times): a rebuild of what did not change gives the image it gave
// before, as BuildKit's cached rebuild does, so that up recreates no
// container for it.
func (l localBuilds) Build(ctx context.Context, o build.Options) (string, error) {
	o.Root = l.root
	store, snaps, err := image.OpenRoot(l.root)
	if err != nil {
		return "", err
	}
	var before v1.Image
	var beforeRef image.Ref
	if len(o.Tags) > 0 {
		beforeRef, before, _ = store.Lookup(o.Tags[0])
	}
	res, err := build.Build(ctx, o)
	if err != nil {
		return "", err
	}
	if before == nil {
		return res.ID.String(), nil
	}
	oldID, err := before.ConfigName()
	if err != nil || oldID == res.ID {
		return res.ID.String(), nil
	}
	_, after, err := store.Lookup(res.ID.String())
	if err != nil || !sameImage(before, after) {
		return res.ID.String(), nil
	}
	for _, n := range res.Names {
		if err := store.SetRef(ctx, n, beforeRef.Manifest); err != nil {
			return "", err
		}
	}
	// the new copy, named by nothing now, goes with what only it used
	if _, err := image.Collect(ctx, store, snaps, l.m.SnapshotsInUse); err != nil {
		return "", err
	}
	return oldID.String(), nil
}

func (l localBuilds) Push(ctx context.Context, ref string, progress image.Progress) (string, error) {
	store, _, err := image.OpenRoot(l.root)
	if err != nil {
		return "", err
	}
	d, err := image.Push(ctx, store, ref, image.PushOptions{Progress: progress})
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// sameImage says whether a and b have the same layers and the same
// config but for the times of their creation and history.
func sameImage(a, b v1.Image) bool {
	form := func(img v1.Image) ([]byte, bool) {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, false
		}
		c := cf.DeepCopy()
		c.Created = v1.Time{}
		for i := range c.History {
			c.History[i].Created = v1.Time{}
		}
		data, err := json.Marshal(c)
		return data, err == nil
	}
	fa, ok := form(a)
	fb, ok2 := form(b)
	return ok && ok2 && string(fa) == string(fb)
}

// Build builds the images of the services that have build: (all of them
// when none is named), each as its build: section says, named
// <project>-<service> unless image: names it, plus its build.tags. Every
// service's build settings are checked before the first build begins.
func (e *Engine) Build(ctx context.Context, p *project.Project, services []string, o api.BuildOptions) (map[string]string, error) {
	if err := p.CheckServices(services...); err != nil {
		return nil, err
	}
	graph, err := project.NewGraph(p.Project)
	if err != nil {
		return nil, err
	}
	if len(services) == 0 {
		services = graph.Services()
	} else if o.Deps {
		services = graph.WithDependencies(services...)
	}
	// the services whose images the builds name (service:NAME in
	// additional_contexts) are built too, first, as compose builds them
	services, err = contextOrder(p, withContextServices(p, inOrder(graph, services)))
	if err != nil {
		return nil, err
	}
	var todo []types.ServiceConfig
	for _, name := range services {
		if s := p.Services[name]; s.Build != nil {
			todo = append(todo, s)
		}
	}
	return e.buildAll(ctx, p, todo, o)
}

// inOrder is names in the graph's dependency order, dependencies first,
// so that a service's image that another's build names (FROM) is built
// first.
func inOrder(graph *project.Graph, names []string) []string {
	var out []string
	for _, n := range graph.Services() {
		if slices.Contains(names, n) {
			out = append(out, n)
		}
	}
	return out
}

// buildAll builds the services' images one after the other, every
// service's settings checked first.
func (e *Engine) buildAll(ctx context.Context, p *project.Project, todo []types.ServiceConfig, o api.BuildOptions) (map[string]string, error) {
	opts := make([]build.Options, len(todo))
	for i, s := range todo {
		bo, err := buildOptions(p, s, o)
		if err != nil {
			return nil, err
		}
		if o.Progress != nil {
			bo.Progress = o.Progress(s.Name)
			bo.Pull = e.Pulls
		}
		opts[i] = bo
	}
	ids := map[string]string{}
	for i, s := range todo {
		id, err := e.builds.Build(ctx, opts[i])
		if err != nil {
			return ids, fmt.Errorf("service %q: %w", s.Name, err)
		}
		ids[s.Name] = id
		e.event("Service", s.Name, "Built")
		if o.Push {
			for _, ref := range opts[i].Tags {
				digest, err := e.builds.Push(ctx, ref, e.Pulls)
				if err != nil {
					return ids, fmt.Errorf("service %q: pushing %s: %w", s.Name, ref, err)
				}
				if o.Pushed != nil {
					o.Pushed(s.Name, ref, digest)
				}
			}
		}
	}
	return ids, nil
}

// buildOptions maps a service's build: section onto the builder's
// options. A key berth cannot honour with the value given is refused,
// naming the key; the keys it ignores were warned of at load (project's
// compatibility table).
func buildOptions(p *project.Project, s types.ServiceConfig, o api.BuildOptions) (build.Options, error) {
	b := s.Build
	var err error
	bad := func(format string, args ...any) error {
		return errclass.New(ErrInvalid, "service %q: "+format, append([]any{s.Name}, args...)...)
	}
	ctxDir := b.Context
	if ctxDir == "" {
		ctxDir = "."
	}
	switch {
	case strings.Contains(ctxDir, "://") || strings.HasPrefix(ctxDir, "git@"):
		return build.Options{}, bad("build.context %q: a remote build context is not supported by berth yet: give a directory", ctxDir)
	case !filepath.IsAbs(ctxDir):
		ctxDir = filepath.Join(p.WorkingDir, ctxDir)
	}
	bo := build.Options{ContextDir: ctxDir, Target: b.Target, Labels: maps.Clone(map[string]string(b.Labels)), AlwaysPull: b.Pull || o.Pull,
		NoCache: b.NoCache || o.NoCache, NoCacheFilter: slices.Clone(b.NoCacheFilter)}
	if b.DockerfileInline != "" {
		bo.DockerfileInline = []byte(b.DockerfileInline)
	} else if b.Dockerfile != "" {
		bo.Dockerfile = b.Dockerfile
		if !filepath.IsAbs(bo.Dockerfile) {
			bo.Dockerfile = filepath.Join(ctxDir, bo.Dockerfile)
		}
	}
	// an arg without a value takes the environment's, and is left out
	// where it has none, as compose does
	bo.BuildArgs = map[string]string{}
	for k, v := range b.Args {
		if v != nil {
			bo.BuildArgs[k] = *v
		} else if env, ok := p.Environment[k]; ok {
			bo.BuildArgs[k] = env
		}
	}
	maps.Copy(bo.BuildArgs, o.Args)
	bo.Tags = append([]string{p.ImageName(s)}, b.Tags...)
	for _, pl := range b.Platforms {
		var one types.ServiceConfig
		one.Platform = pl
		if err := hostPlatform(one); err != nil {
			return bo, bad("build.platforms: %v", err)
		}
	}
	if bo.Contexts, err = additionalContexts(p, s); err != nil {
		return bo, err
	}
	// how the RUN steps run: as docker compose hands these keys to
	// BuildKit
	switch b.Network {
	case "", "default":
		bo.Network = build.NetworkDefault
	case "none":
		bo.Network = build.NetworkNone
	case "host":
		bo.Network = build.NetworkHost
	default:
		return bo, bad("build.network %q: a network of the project is not supported for builds yet (default, none and host are)", b.Network)
	}
	for _, name := range slices.Sorted(maps.Keys(b.ExtraHosts)) {
		for _, ip := range b.ExtraHosts[name] {
			bo.ExtraHosts = append(bo.ExtraHosts, name+":"+ip)
		}
	}
	bo.ShmSize = int64(b.ShmSize)
	for _, name := range slices.Sorted(maps.Keys(b.Ulimits)) {
		u := b.Ulimits[name]
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		bo.Ulimits = append(bo.Ulimits, build.Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	for _, e := range b.Entitlements {
		switch e {
		case build.AllowNetworkHost, build.AllowInsecure:
			bo.Allow = append(bo.Allow, e)
		default:
			return bo, bad("build.entitlements: unknown entitlement %q (network.host and security.insecure are)", e)
		}
	}
	if b.Privileged {
		bo.Allow = append(bo.Allow, build.AllowInsecure)
	}
	// a build secret is one of the project's secrets, known to RUN
	// --mount=type=secret by its target, else its name, as compose passes
	// it to BuildKit
	for _, ref := range b.Secrets {
		def, ok := p.Secrets[ref.Source]
		if !ok {
			return bo, bad("build.secrets: secret %q is not defined in the project's secrets", ref.Source)
		}
		id := cmp.Or(ref.Target, ref.Source)
		switch {
		case def.File != "":
			bo.Secrets = append(bo.Secrets, build.Secret{ID: id, File: def.File})
		case def.Environment != "":
			bo.Secrets = append(bo.Secrets, build.Secret{ID: id, Env: def.Environment})
		default:
			return bo, bad("build.secrets: secret %q has neither file nor environment, which a build can read", ref.Source)
		}
	}
	// cache_from: images here whose layers a step may take (their
	// configs name the steps that made them); others are passed over
	bo.CacheFrom = slices.Clone(b.CacheFrom)
	return bo, nil
}

// obtain makes the service's image present for an up or a run, as
// docker compose does: a service with build: is built when its
// pull_policy is build (up --build sets it) or when its image is not
// here and cannot be pulled; noBuild builds nothing.
func (e *Engine) obtain(ctx context.Context, p *project.Project, s types.ServiceConfig, noBuild bool, o api.BuildOptions, pulls container.Progress) error {
	if s.Build == nil {
		return e.Image(ctx, p, s, "", pulls)
	}
	if err := hostPlatform(s); err != nil {
		return err
	}
	ref := p.ImageName(s)
	if noBuild {
		if s.Image != "" && s.PullPolicy != types.PullPolicyBuild {
			return e.Image(ctx, p, s, "", pulls)
		}
		if e.images.ID(ref) == "" {
			return errclass.New(ErrNotFound, "service %q: image %s is not here, and --no-build forbids building it: run berth build %s", s.Name, ref, s.Name)
		}
		return nil
	}
	if s.PullPolicy != types.PullPolicyBuild {
		if s.Image != "" {
			// pulled as the policy says; a failure is forgiven, since the
			// image can be built, as compose forgives it
			if policy, err := e.pullNow(ref, s); err == nil && policy != "never" {
				_ = e.images.Ensure(ctx, ref, policy, pulls)
			}
		}
		if e.images.ID(ref) != "" {
			return nil
		}
	}
	if err := e.obtainContexts(ctx, p, s, o, pulls, nil); err != nil {
		return err
	}
	_, err := e.buildAll(ctx, p, []types.ServiceConfig{s}, o)
	return err
}

// serviceError is err, said to be the service's unless it says so.
func serviceError(name string, err error) error {
	if strings.HasPrefix(err.Error(), fmt.Sprintf("service %q: ", name)) {
		return err
	}
	return fmt.Errorf("service %q: %w", name, err)
}

// additionalContexts are the service's build.additional_contexts as the
// builder takes them: a directory relative to the project's, an image
// (docker-image://), or service:NAME, the image that service builds (or
// names), as docker compose hands it to BuildKit. The builder refuses
// the values it cannot take, naming them.
func additionalContexts(p *project.Project, s types.ServiceConfig) (map[string]string, error) {
	if len(s.Build.AdditionalContexts) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for k, v := range s.Build.AdditionalContexts {
		if name, ok := strings.CutPrefix(v, types.ServicePrefix); ok {
			other, ok := p.Services[name]
			if !ok {
				return nil, errclass.New(ErrInvalid, "service %q: build.additional_contexts %s=%s: no service %q in the project", s.Name, k, v, name)
			}
			out[k] = "docker-image://" + p.ImageName(other)
			continue
		}
		// as compose-go resolves it, when the loader has not
		if !filepath.IsAbs(v) && !build.RemoteContext(v) {
			v = filepath.Join(p.WorkingDir, v)
		}
		out[k] = v
	}
	if err := build.CheckContexts(out); err != nil {
		return nil, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("service %q: build.additional_contexts: %v", s.Name, err))
	}
	return out, nil
}

// contextServices are the services whose images s's build names
// (service:NAME in its additional_contexts), sorted.
func contextServices(s types.ServiceConfig) []string {
	if s.Build == nil {
		return nil
	}
	var out []string
	for _, v := range s.Build.AdditionalContexts {
		if name, ok := strings.CutPrefix(v, types.ServicePrefix); ok && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// withContextServices is names and the services their builds name,
// theirs too, as compose adds them to a build.
func withContextServices(p *project.Project, names []string) []string {
	out := slices.Clone(names)
	for i := 0; i < len(out); i++ {
		for _, n := range contextServices(p.Services[out[i]]) {
			if _, ok := p.Services[n]; ok && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// contextOrder is names, each after the services its build names
// (service:NAME), which are otherwise in the order given; a cycle of
// such names is refused.
func contextOrder(p *project.Project, names []string) ([]string, error) {
	var out []string
	state := map[string]int{} // 1: being visited, 2: done
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case 1:
			return errclass.New(ErrInvalid, "build.additional_contexts: the services' builds name each other: %s", strings.Join(append(path, name), " -> "))
		case 2:
			return nil
		}
		state[name] = 1
		for _, n := range contextServices(p.Services[name]) {
			if slices.Contains(names, n) {
				if err := visit(n, append(path, name)); err != nil {
					return err
				}
			}
		}
		state[name] = 2
		out = append(out, name)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// obtainOrder is the order in which up obtains the images of names:
// the graph's, each service after those its build names (service:NAME),
// so that a build takes the image just built. A cycle among these is
// left for obtainContexts to report.
func obtainOrder(p *project.Project, graph *project.Graph, names []string) []string {
	order := inOrder(graph, names)
	if out, err := contextOrder(p, order); err == nil {
		return out
	}
	return order
}

// obtainContexts makes present the images of the services s's build
// names (service:NAME) that are not here, building them (or pulling an
// image-only service's) before s is built.
func (e *Engine) obtainContexts(ctx context.Context, p *project.Project, s types.ServiceConfig, o api.BuildOptions, pulls container.Progress, path []string) error {
	path = append(path, s.Name)
	for _, name := range contextServices(s) {
		if slices.Contains(path, name) {
			return errclass.New(ErrInvalid, "build.additional_contexts: the services' builds name each other: %s", strings.Join(append(path, name), " -> "))
		}
		other, ok := p.Services[name]
		if !ok || e.images.ID(p.ImageName(other)) != "" {
			continue // an unknown one is refused with the build's options
		}
		if other.Build == nil {
			if err := e.Image(ctx, p, other, "", pulls); err != nil {
				return serviceError(name, err)
			}
			continue
		}
		if err := e.obtainContexts(ctx, p, other, o, pulls, path); err != nil {
			return err
		}
		if _, err := e.buildAll(ctx, p, []types.ServiceConfig{other}, o); err != nil {
			return err
		}
	}
	return nil
}
