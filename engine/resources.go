package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/volumes"
)

// checkNetwork refuses a network berth cannot make: more than one ipam
// config, another ipam driver, no IPv4, a subnet that does not parse.
func checkNetwork(key string, cfg types.NetworkConfig) error {
	if len(cfg.Ipam.Config) > 1 {
		return errclass.New(ErrInvalid, "network %s: berth takes one ipam.config entry per network", key)
	}
	if d := cfg.Ipam.Driver; d != "" && d != "default" {
		return errclass.New(ErrInvalid, "network %s: ipam driver %q is not supported: berth has its own, the default", key, d)
	}
	if cfg.EnableIPv4 != nil && !*cfg.EnableIPv4 {
		return errclass.New(ErrInvalid, "network %s: enable_ipv4: false is not supported: berth's networks are IPv4", key)
	}
	if len(cfg.Ipam.Config) == 1 {
		c := cfg.Ipam.Config[0]
		if _, err := subnet(c.Subnet, c.Gateway, c.IPRange, c.AuxiliaryAddresses); err != nil {
			return errclass.New(ErrInvalid, "network %s: %v", key, err)
		}
	}
	return nil
}

// ensureNetworks makes the project's networks that its services use and
// that are not there yet, with compose's labels; an external one must
// exist. Compose names them <project>_<key> (compose-go has filled in
// Name).
func (e *Engine) ensureNetworks(ctx context.Context, p *project.Project, dry bool) error {
	used := map[string]bool{}
	for _, s := range p.Services {
		for key := range s.Networks {
			used[key] = true
		}
	}
	// what berth cannot make is refused before any network or volume
	// is made (ensureVolumes comes after)
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		if cfg := p.Networks[key]; used[key] && !bool(cfg.External) {
			if err := checkNetwork(key, cfg); err != nil {
				return err
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(p.Volumes)) {
		if cfg := p.Volumes[key]; !bool(cfg.External) && cfg.Driver != "" && cfg.Driver != "local" {
			return errclass.New(ErrInvalid, "volume %s: driver %q is not supported: berth has the local driver", key, cfg.Driver)
		}
	}
	store, done, err := e.networks()
	if err != nil {
		return err
	}
	defer done()
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		if !used[key] {
			continue
		}
		cfg := p.Networks[key]
		existing, err := store.Get(ctx, cfg.Name)
		if cfg.External {
			if err != nil {
				return errclass.New(ErrNotFound, "network %s declared as external, but could not be found", cfg.Name)
			}
			continue
		}
		if err == nil {
			if existing.Labels[LabelProject] != p.Name {
				e.warn(fmt.Sprintf("a network with name %s exists but was not created for project %q. Set `external: true` to use an existing network", cfg.Name, p.Name))
			}
			continue
		}
		if !errors.Is(err, errclass.ErrNotFound) {
			return err
		}
		if dry {
			e.event("Network", cfg.Name, "Created (dry run)")
			continue
		}
		o := netns.CreateOptions{Name: cfg.Name, Driver: cfg.Driver, Internal: cfg.Internal, Options: cfg.DriverOpts,
			Labels: map[string]string{LabelProject: p.Name, LabelNetwork: key, LabelVersion: ComposeVersion}}
		maps.Copy(o.Labels, cfg.Labels)
		if len(cfg.Ipam.Config) == 1 {
			o.Subnet, _ = subnet(cfg.Ipam.Config[0].Subnet, cfg.Ipam.Config[0].Gateway, cfg.Ipam.Config[0].IPRange, cfg.Ipam.Config[0].AuxiliaryAddresses) // checked
		}
		e.event("Network", cfg.Name, "Creating")
		if err := store.Create(ctx, o); err != nil {
			return err
		}
		e.event("Network", cfg.Name, "Created")
	}
	if dry {
		return nil
	}
	// a firewall that came or restarted since (Docker's, say) may have
	// taken berth's rules away: up puts them back even when it has
	// nothing to start
	return store.CheckFirewall(ctx)
}

// subnet reads an ipam.config entry.
func subnet(prefix, gateway, ipRange string, aux map[string]string) (netns.Subnet, error) {
	var s netns.Subnet
	var err error
	if prefix != "" {
		if s.Prefix, err = netip.ParsePrefix(prefix); err != nil {
			return s, fmt.Errorf("invalid subnet %q", prefix)
		}
	}
	if gateway != "" {
		if s.Gateway, err = netip.ParseAddr(gateway); err != nil {
			return s, fmt.Errorf("invalid gateway %q", gateway)
		}
	}
	if ipRange != "" {
		if s.Range, err = netip.ParsePrefix(ipRange); err != nil {
			return s, fmt.Errorf("invalid ip_range %q", ipRange)
		}
	}
	for name, v := range aux {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return s, fmt.Errorf("invalid aux_address %q", v)
		}
		if s.Aux == nil {
			s.Aux = map[string]netip.Addr{}
		}
		s.Aux[name] = a
	}
	return s, nil
}

// ensureVolumes makes the project's named volumes that are not there yet,
// with compose's labels; an external one must exist.
func (e *Engine) ensureVolumes(ctx context.Context, p *project.Project, dry bool) error {
	for _, key := range slices.Sorted(maps.Keys(p.Volumes)) {
		cfg := p.Volumes[key]
		_, err := e.volumes.Get(ctx, cfg.Name)
		if cfg.External {
			if err != nil {
				return errclass.New(ErrNotFound, "external volume %q not found", cfg.Name)
			}
			continue
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, errclass.ErrNotFound) {
			return err
		}
		if dry {
			e.event("Volume", cfg.Name, "Created (dry run)")
			continue
		}
		labels := map[string]string{LabelProject: p.Name, LabelVolume: key, LabelVersion: ComposeVersion}
		maps.Copy(labels, cfg.Labels)
		e.event("Volume", cfg.Name, "Creating")
		if err := e.volumes.Create(ctx, cfg.Name, volumes.CreateOptions{Driver: cfg.Driver, Labels: labels, Options: cfg.DriverOpts}); err != nil {
			return err
		}
		e.event("Volume", cfg.Name, "Created")
	}
	return nil
}
