package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"path/filepath"
	"slices"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/volumes"
)

// PrepareRun brings up the service's dependencies (unless NoDeps), and
// returns the options of a one-off container of it: named
// <project>-<service>-run-<id>, labelled oneoff, with no restart policy.
func (e *Engine) PrepareRun(ctx context.Context, p *project.Project, service string, o api.RunOptions) (container.CreateOptions, error) {
	s, err := p.GetService(service)
	if err != nil {
		return container.CreateOptions{}, errclass.New(ErrNotFound, "no such service: %s", service)
	}
	graph, err := project.NewGraph(p.Project)
	if err != nil {
		return container.CreateOptions{}, err
	}
	// refused settings stop the run before anything is made (see Up)
	if _, err := containerOptions(p, s, 1, "", nil, func(string) {}); err != nil {
		return container.CreateOptions{}, err
	}
	if deps := graph.WithDependencies(service); !o.NoDeps && len(deps) > 1 {
		var others []string
		for _, d := range deps {
			if d != service {
				others = append(others, d)
			}
		}
		if err := e.Up(ctx, p, api.UpOptions{Services: others, Parallel: o.Parallel, Build: o.Build}); err != nil {
			return container.CreateOptions{}, err
		}
	}
	if err := e.ensureNetworks(ctx, p, false); err != nil {
		return container.CreateOptions{}, err
	}
	if err := e.ensureVolumes(ctx, p, false); err != nil {
		return container.CreateOptions{}, err
	}
	if err := e.obtain(ctx, p, s, false, o.Build, e.Pulls); err != nil {
		return container.CreateOptions{}, err
	}
	if !o.ServicePorts {
		s.Ports = nil
	}
	hash, err := project.ServiceHash(s)
	if err != nil {
		return container.CreateOptions{}, err
	}
	co, err := containerOptions(p, s, 1, hash, nil, e.warn)
	if err != nil {
		return co, err
	}
	id := make([]byte, 6)
	rand.Read(id)
	co.Name = o.Name
	if co.Name == "" {
		co.Name = OneoffName(p.Name, service, hex.EncodeToString(id))
	}
	files, err := e.fileMounts(p, s, co.Name)
	if err != nil {
		return co, err
	}
	co.Mounts = append(co.Mounts, files...)
	co.Labels[LabelOneoff] = "True"
	delete(co.Labels, LabelNumber)
	maps.Copy(co.Labels, o.Labels)
	co.Restart, co.AutoRemove = record.RestartPolicy{Name: "no"}, o.AutoRemove
	co.TTY, co.Interactive = o.TTY, o.Interactive
	if len(o.Cmd) > 0 {
		co.Cmd = o.Cmd
	}
	if o.Entrypoint != nil {
		co.Entrypoint = o.Entrypoint
	}
	co.Env = append(co.Env, o.Env...)
	if o.User != "" {
		co.User = o.User
	}
	if o.WorkDir != "" {
		co.WorkDir = o.WorkDir
	}
	for _, v := range o.Volumes { // -v replaces the service's mount at the same place
		co.Mounts = slices.DeleteFunc(co.Mounts, func(m volumes.Spec) bool { return filepath.Clean(m.Target) == filepath.Clean(v.Target) })
		co.Mounts = append(co.Mounts, v)
	}
	co.Ports = append(co.Ports, o.Ports...)
	co.CapAdd, co.CapDrop = append(co.CapAdd, o.CapAdd...), append(co.CapDrop, o.CapDrop...)
	if !o.UseAliases {
		for n, aliases := range co.NetworkAliases {
			co.NetworkAliases[n] = aliases[:0]
		}
	}
	return co, nil
}
