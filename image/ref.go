package image

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ParseReference reads an image name the way Docker does: a name without a
// registry is on Docker Hub, a Hub name without a namespace is in library/, a
// name without a tag or digest is :latest. Registries on loopback and those
// listed as insecure are spoken to over plain HTTP.
func ParseReference(s string) (name.Reference, error) {
	r, err := name.ParseReference(s, name.WithDefaultRegistry("index.docker.io"))
	if err != nil {
		return nil, wrap(ErrInvalid, err, fmt.Sprintf("invalid reference format %q: %v", s, err))
	}
	if insecureRegistry(r.Context().RegistryStr()) {
		r, err = name.ParseReference(s, name.WithDefaultRegistry("index.docker.io"), name.Insecure)
		if err != nil {
			return nil, wrap(ErrInvalid, err, fmt.Sprintf("invalid reference format %q: %v", s, err))
		}
	}
	return r, nil
}

// FullName is the normalized name berth stores a reference under, with Docker
// Hub spelled docker.io as Docker does: docker.io/library/busybox:latest.
func FullName(r name.Reference) string {
	return strings.Replace(r.Name(), "index.docker.io/", "docker.io/", 1)
}

// FamiliarName is how Docker shows a name: busybox:latest for Docker Hub's
// library, alice/app:1 for other Hub names, the full name elsewhere.
func FamiliarName(full string) string {
	s := strings.TrimPrefix(full, "docker.io/")
	if s == full {
		return full
	}
	return strings.TrimPrefix(s, "library/")
}

// repoAndTag splits a stored name into what `image ls` shows in its
// REPOSITORY and TAG columns.
func repoAndTag(full string) (repo, tag string) {
	f := FamiliarName(full)
	if i := strings.Index(f, "@"); i >= 0 {
		return f[:i], "<none>"
	}
	if i := strings.LastIndex(f, ":"); i > strings.LastIndex(f, "/") {
		return f[:i], f[i+1:]
	}
	return f, "<none>"
}

// insecureRegistry: loopback registries, and those named in
// BERTH_INSECURE_REGISTRIES (comma-separated) or in the insecure-registries
// list of /etc/docker/daemon.json, as Docker reads it.
func insecureRegistry(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return true
	}
	list := strings.Split(os.Getenv("BERTH_INSECURE_REGISTRIES"), ",")
	if data, err := os.ReadFile("/etc/docker/daemon.json"); err == nil {
		var cfg struct {
			Insecure []string `json:"insecure-registries"`
		}
		if json.Unmarshal(data, &cfg) == nil {
			list = append(list, cfg.Insecure...)
		}
	}
	return slices.Contains(list, host) || slices.Contains(list, h)
}
