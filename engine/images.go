package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/project"
)

// Pull pulls the services' images as compose pull does: each as the
// policy and the service's pull_policy weigh together, through Image
// (which refuses another platform and an image to be built).
func (e *Engine) Pull(ctx context.Context, p *project.Project, services []string, o api.PullOptions) error {
	return e.eachImage(p, services, o.IgnoreFailures, func(s types.ServiceConfig) error {
		policy := "always"
		if o.Policy == "missing" || s.PullPolicy == "never" || s.PullPolicy == "missing" && o.Policy == "" {
			policy = "missing"
		}
		return e.Image(ctx, p, s, policy, o.Progress)
	})
}

// Push pushes the services' images to their registries, as compose push
// does.
func (e *Engine) Push(ctx context.Context, p *project.Project, services []string, o api.PushOptions) error {
	return e.eachImage(p, services, o.IgnoreFailures, func(s types.ServiceConfig) error {
		return e.images.Push(ctx, s.Image, o.Progress)
	})
}

// eachImage calls fn for each service (of services, if given) that names
// an image, in the order of their names; a failure ends it, or with
// ignore becomes a warning.
func (e *Engine) eachImage(p *project.Project, services []string, ignore bool, fn func(types.ServiceConfig) error) error {
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if len(services) > 0 && !slices.Contains(services, name) || s.Image == "" {
			continue
		}
		if err := fn(s); err != nil {
			err = fmt.Errorf("service %q: %w", name, err)
			if !ignore {
				return err
			}
			e.warn(err.Error())
		}
	}
	return nil
}

// Images are the images of the project's containers, as compose images
// lists them: the reference each was made from, its ID, and its size
// while the image is here.
func (e *Engine) Images(ctx context.Context, project string, services []string) ([]api.ImageSummary, error) {
	ms, err := e.Members(ctx, project, services...)
	if err != nil {
		return nil, err
	}
	var out []api.ImageSummary
	for _, m := range ms {
		repo, tag := m.Record.Image, "latest"
		if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo, tag = repo[:i], repo[i+1:]
		}
		size, err := e.images.Size(m.Record.Image)
		if err != nil {
			return nil, err
		}
		out = append(out, api.ImageSummary{Container: m.Record.Name, Repository: repo, Tag: tag, ID: m.Record.ImageID, Size: size})
	}
	return out, nil
}
