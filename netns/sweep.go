package netns

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// Sweep gives back what containers that are gone still hold in the
// networks under dir: their published ports (ports/<id>.json, and the
// firewall's rules with them) and their addresses. A process killed
// between a container's removal steps leaves them. keep says whether a
// container (by ID) is still there, or being made or removed; only
// containers are endpoints. It reads files only, and opens the host's
// netlink and nftables only when something is to go. The container
// store's sweep calls it.
func Sweep(ctx context.Context, dir string, keep func(id string) bool) error {
	var ports []string
	paths, _ := filepath.Glob(filepath.Join(dir, "ports", "*.json"))
	for _, p := range paths {
		if id := strings.TrimSuffix(filepath.Base(p), ".json"); !keep(id) {
			ports = append(ports, id)
		}
	}
	stale := func(a *allocations) bool {
		for _, used := range a.Addresses {
			for _, owner := range used {
				if !keep(owner) {
					return true
				}
			}
		}
		return false
	}
	var a allocations
	data, err := os.ReadFile(filepath.Join(dir, "ipam.json"))
	addresses := err == nil && json.Unmarshal(data, &a) == nil && stale(&a)
	if len(ports) == 0 && !addresses {
		return nil
	}
	s, done, err := OpenHost(dir)
	if err != nil {
		return err
	}
	defer done()
	for _, id := range ports {
		if err := s.Unpublish(ctx, id); err != nil {
			return err
		}
	}
	if !addresses {
		return nil
	}
	return s.ipam.update(ctx, func(a *allocations) error {
		for _, used := range a.Addresses {
			for addr, owner := range used {
				if !keep(owner) {
					delete(used, addr)
				}
			}
		}
		return nil
	})
}
