package monitor

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-dev/berth/dns"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
)

// NetworkStore opens the networks of the berth root, on the host; close
// releases it.
func NetworkStore(root string) (s *netns.Store, close func(), err error) {
	return netns.OpenHost(filepath.Join(root, "networks"))
}

// userDefined reports whether a container is on a network other than the
// default one: those get DNS names and the embedded resolver, as in Docker.
func userDefined(networks []string) bool {
	return slices.ContainsFunc(networks, func(n string) bool { return n != netns.DefaultNetwork })
}

// NSPath is where a networked container's namespace is bind-mounted.
func NSPath(root, id string) string { return filepath.Join(RunDir(root), "netns", id) }

// joinNetworks puts a container about to start on its networks: a network
// namespace made ahead of it under the run directory, an address from each
// network's IPAM and a veth to each bridge (eth0, eth1, ... in order; the
// first network's gateway is the default route). It returns the
// namespace's path for the runtime and the endpoints; on error nothing is
// left. LeaveNetworks undoes it.
func joinNetworks(ctx context.Context, root string, rec record.Record) (path string, eps map[string]record.Endpoint, err error) {
	if len(rec.Host.Networks) == 0 {
		return "", nil, nil
	}
	s, done, err := NetworkStore(root)
	if err != nil {
		return "", nil, err
	}
	defer done()
	// what a restarted firewall took away is put back at every start
	if err := s.CheckFirewall(ctx); err != nil {
		return "", nil, err
	}
	path = NSPath(root, rec.ID)
	netns.RemoveNamespace(path) // a monitor killed before it could leave
	ns, err := netns.CreateNamespace(path)
	if err != nil {
		return "", nil, err
	}
	ns.Close()
	eps = map[string]record.Endpoint{}
	for i, name := range rec.Host.Networks {
		ep, err := Plug(ctx, s, root, rec, name, path, i, i == rec.Host.GatewayNetwork())
		if err != nil {
			LeaveNetworks(ctx, root, rec.ID, eps)
			return "", nil, err
		}
		eps[name] = ep
	}
	return path, eps, nil
}

// Plug puts the container whose network namespace is at path on the
// network name, its index-th: an address (the one its settings ask for,
// if any), a veth (named eth<index>, or as the settings say) and its
// names in the resolvers' table; with gateway, the network's gateway is
// the default route.
func Plug(ctx context.Context, s *netns.Store, root string, rec record.Record, name, path string, index int, gateway bool) (record.Endpoint, error) {
	id := rec.ID
	n, err := s.Get(name)
	if err != nil {
		return record.Endpoint{}, err
	}
	// a reboot takes the bridge and the firewall's table, not the record
	if _, err := s.Ensure(ctx, n); err != nil {
		return record.Endpoint{}, fmt.Errorf("joining network %s: %w", n.Name, err)
	}
	settings := rec.Host.Endpoint(name, index)
	addr, err := s.IPAM().RequestAddress(ctx, n.Name, id, settings.IPv4Address)
	if err != nil {
		return record.Endpoint{}, err
	}
	ep := record.Endpoint{NetworkID: n.ID, Address: netip.PrefixFrom(addr, n.Subnet.Prefix.Bits()), Gateway: n.Subnet.Gateway}
	var gw netip.Addr
	if gateway {
		gw = n.Subnet.Gateway
	}
	ep.IfName = cmp.Or(settings.InterfaceName, fmt.Sprintf("eth%d", index))
	var mac net.HardwareAddr
	if settings.MacAddress != "" {
		mac, _ = net.ParseMAC(settings.MacAddress) // checked at create
	}
	ep.HostIf, err = netns.Attach(s.Host(), netns.Endpoint{Bridge: n.Bridge, NetNS: path, IfName: ep.IfName,
		Address: ep.Address, Gateway: gw, MTU: n.MTU, MAC: mac})
	if err != nil {
		s.IPAM().ReleaseAddress(context.WithoutCancel(ctx), n.Name, id)
		return record.Endpoint{}, fmt.Errorf("joining network %s: %w", n.Name, err)
	}
	ep.MAC = netns.MAC(addr).String()
	if mac != nil {
		ep.MAC = mac.String()
	}
	if n.IsDefault() {
		return ep, nil // no names on the default network
	}
	if err := dns.WriteEntry(DNSDir(root), dns.Entry{Network: n.Name, Container: id, Names: DNSNames(rec, n.Name), Address: addr, Internal: n.Internal}); err != nil {
		netns.Detach(s.Host(), ep.HostIf)
		s.IPAM().ReleaseAddress(context.WithoutCancel(ctx), n.Name, id)
		return record.Endpoint{}, fmt.Errorf("joining network %s: %w", n.Name, err)
	}
	return ep, nil
}

// LeaveNetworks takes a container off its endpoints' networks (veths off
// their bridges, addresses given back) and removes its network namespace,
// whose end takes the veths with it. It
// runs when the container's process has ended, from its monitor or, for a
// monitor that died, from CleanRuntime.
func LeaveNetworks(ctx context.Context, root, id string, eps map[string]record.Endpoint) {
	if len(eps) > 0 {
		if s, done, err := NetworkStore(root); err == nil {
			s.Unpublish(context.WithoutCancel(ctx), id) // a dead monitor's ports
			for name, ep := range eps {
				dns.RemoveEntry(DNSDir(root), name, id)
				netns.Release(s.Host(), ep.HostIf) // the pair goes with the namespace
				s.IPAM().ReleaseAddress(context.WithoutCancel(ctx), name, id)
			}
			done()
		}
	}
	netns.RemoveNamespace(NSPath(root, id))
}

// borrowNetwork readies a container that shares another's network
// (--network container:NAME) to start: that container must be running; its
// hosts and resolv.conf become this one's, and the path of its network
// namespace is returned for the runtime to join.
func borrowNetwork(s *record.Store, root string, rec record.Record) (string, error) {
	owner, err := s.Get(rec.Host.NetworkContainer)
	if err != nil {
		return "", fmt.Errorf("joining the network of container %s: %w", rec.Host.NetworkContainer, err)
	}
	if !owner.State.Running() {
		return "", errclass.New(record.ErrState, "cannot join network namespace of a non running container: container %s is %s", owner.Record.Name, owner.State.Status)
	}
	for _, f := range []string{"hosts", "resolv.conf"} {
		data, err := os.ReadFile(filepath.Join(s.Dir(owner.Record.ID), f))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(s.Dir(rec.ID), f), data, 0o644); err != nil {
			return "", err
		}
	}
	path := NSPath(root, owner.Record.ID)
	if _, err := os.Stat(path); err != nil {
		path = fmt.Sprintf("/proc/%d/ns/net", owner.State.Pid) // loopback only, or the host's
	}
	return path, nil
}

// linkHosts are /etc/hosts lines (NAME:IP) for the links of a container on
// the default network, which has no DNS names: each linked container's
// alias and name, by its address on a network the two share, as Docker's
// legacy links do. On user-defined networks the resolver answers aliases.
func linkHosts(s *record.Store, rec record.Record) []string {
	if userDefined(rec.Host.Networks) {
		return nil
	}
	var out []string
	for _, l := range rec.Host.Links {
		name, alias, _ := strings.Cut(l, ":")
		target, err := s.Get(name)
		if err != nil {
			continue
		}
		for _, n := range rec.Host.Networks {
			if ep, ok := target.State.Networks[n]; ok {
				ip := ep.Address.Addr().String()
				out = append(out, alias+":"+ip)
				if alias != name {
					out = append(out, name+":"+ip)
				}
				break
			}
		}
	}
	return out
}

// linkAliases are a container's links as the resolver takes them: alias
// to container name.
func linkAliases(rec record.Record) map[string]string {
	out := map[string]string{}
	for _, l := range rec.Host.Links {
		name, alias, _ := strings.Cut(l, ":")
		out[alias] = name
	}
	return out
}
