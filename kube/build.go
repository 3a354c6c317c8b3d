package kube

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/project"
)

// Builder builds a project's images and pushes them: the local engine's
// Build (api.Service's), which the CLI gives the cluster for up --build
// --push. The cluster has no builder of its own, and package kube does
// not link the engine.
type Builder interface {
	Build(ctx context.Context, p *project.Project, services []string, o api.BuildOptions) (map[string]string, error)
}

// checkBuilds refuses a service with build: and no image: the cluster
// would pull PROJECT-SERVICE, which is in no registry, and its pods would
// never start.
func checkBuilds(p *project.Project) error {
	for _, name := range sortedKeys(p.Services) {
		if s := p.Services[name]; s.Build != nil && s.Image == "" {
			return errclass.New(errclass.ErrInvalid, "service %q has build: but no image: a cluster pulls its images from a registry, where %s is not; "+
				"name the image to push in image: (REGISTRY/REPOSITORY:TAG) and run up --build --push", name, p.ImageName(s))
		}
	}
	return nil
}

// buildPush builds the image of every service with build: with
// c.Builder, pushes it to the registry its image: names, and pins the
// service to what was pushed: its image becomes REF@DIGEST, so that a
// changed build rolls that service out and an unchanged one (the builder
// keeps an image that did not change, the same digest) changes nothing.
func (c *Cluster) buildPush(ctx context.Context, p *project.Project, o api.BuildOptions) error {
	if c.Builder == nil {
		return fmt.Errorf("up --push on context %q: no builder given", c.Context)
	}
	var mu sync.Mutex
	digests := map[string]string{}
	o.Push = true
	o.Pushed = func(service, ref, digest string) {
		mu.Lock()
		defer mu.Unlock()
		if s, ok := p.Services[service]; ok && ref == s.Image {
			digests[service] = digest
		}
	}
	if _, err := c.Builder.Build(ctx, p, nil, o); err != nil {
		return err
	}
	for _, name := range sortedKeys(p.Services) {
		s := p.Services[name]
		if s.Build == nil {
			continue
		}
		d, ok := digests[name]
		if !ok {
			return fmt.Errorf("service %q: %s was built but not pushed", name, s.Image)
		}
		s.Image = pinned(s.Image, d)
		// built and pushed: what the cluster runs is the image alone, and
		// up --build's pull_policy build has no imagePullPolicy
		s.Build = nil
		if s.PullPolicy == types.PullPolicyBuild {
			s.PullPolicy = ""
		}
		p.Services[name] = s
	}
	return nil
}

// pinned is ref at digest: REPOSITORY[:TAG]@DIGEST, the tag kept for
// readers (the container runtime goes by the digest).
func pinned(ref, digest string) string {
	ref, _, _ = strings.Cut(ref, "@")
	return ref + "@" + digest
}
