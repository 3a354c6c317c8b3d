package project

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
)

// ServiceHash is the configuration hash of a service: the hex SHA-256 of the
// service's JSON form (compose-go's encoding, so the same as docker compose's
// com.docker.compose.config-hash label) with these fields cleared first:
//
//   - build and pull_policy: how the image is obtained, not what runs; a new
//     image is detected by its ID, not by this hash;
//   - scale and deploy.replicas: how many containers, handled by scaling up or
//     down, not by recreating the ones that run;
//   - depends_on: start order and conditions, not the container itself;
//   - profiles: whether the service is selected, not what it is.
//
// Every other field is covered: a change to any of them (image, command,
// environment after env_file is merged, ports, volumes, networks, labels,
// limits, ...) recreates the service's containers. Fields compose-go never
// serialises (the labels compose adds at run time) are not part of it.
func ServiceHash(s types.ServiceConfig) (string, error) {
	data, err := HashedForm(s)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// HashedForm is the JSON that ServiceHash hashes: what a plan compares to
// say which fields changed.
func HashedForm(s types.ServiceConfig) ([]byte, error) {
	s.Build = nil
	s.PullPolicy = ""
	s.Scale = nil
	if s.Deploy != nil {
		d := *s.Deploy
		d.Replicas = nil
		s.Deploy = &d
	}
	s.DependsOn = nil
	s.Profiles = nil
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("hashing service %q: %w", s.Name, err)
	}
	return data, nil
}

// applyDefaultPlatform gives services that build their image the platform in
// DOCKER_DEFAULT_PLATFORM, as docker compose does before hashing, and refuses
// a platform that the build does not list.
func applyDefaultPlatform(p *types.Project) error {
	def := p.Environment["DOCKER_DEFAULT_PLATFORM"]
	for name, s := range p.Services {
		if s.Build == nil {
			continue
		}
		if def != "" && s.Platform == "" {
			if len(s.Build.Platforms) > 0 && !slices.Contains(s.Build.Platforms, def) {
				return invalidf("service %q build.platforms does not support value set by DOCKER_DEFAULT_PLATFORM: %s", name, def)
			}
			s.Platform = def
		}
		if s.Platform != "" && len(s.Build.Platforms) > 0 && !slices.Contains(s.Build.Platforms, s.Platform) {
			return invalidf("service %q build configuration does not support platform: %s", name, s.Platform)
		}
		p.Services[name] = s
	}
	return nil
}
