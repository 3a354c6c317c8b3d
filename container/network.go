package container

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/netns"
)

// Endpoint is a running container's place on one network, kept in its
// state for inspect and for leaving the network when it stops.
type Endpoint struct {
	NetworkID string
	HostIf    string
	Address   netip.Prefix
	Gateway   netip.Addr
	MAC       string
}

// networkStore opens the networks of the berth root and a netlink handle
// on the host's namespace, where their bridges are; close releases it.
func networkStore(root string) (s *netns.Store, close func(), err error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, nil, fmt.Errorf("opening netlink: %w", err)
	}
	// the pools only matter to network create; endpoints take addresses
	// nor the firewall: joining a network changes no rule
	if s, err = netns.OpenStore(filepath.Join(root, "networks"), h, nil, nil); err != nil {
		h.Close()
		return nil, nil, err
	}
	return s, h.Close, nil
}

// networkNames resolves, at create, the networks the user named (by name
// or ID) to their names, which the record keeps; an unknown one fails
// before anything is made.
// A static address (ip) must lie in the first network's subnet.
func networkNames(root string, refs []string, ip netip.Addr) ([]string, error) {
	if len(refs) == 0 {
		if ip.IsValid() {
			return nil, errclass.New(ErrInvalid, "--ip %s needs --network: the default network does not take static addresses", ip)
		}
		return nil, nil
	}
	s, done, err := networkStore(root)
	if err != nil {
		return nil, err
	}
	defer done()
	var names []string
	for i, ref := range refs {
		n, err := s.Get(ref)
		if err != nil {
			return nil, errclass.Wrap(ErrInvalid, err, err.Error())
		}
		if i == 0 && ip.IsValid() && !n.Subnet.Prefix.Contains(ip) {
			return nil, errclass.New(ErrInvalid, "invalid IP address %s: it does not belong to network %s's subnet %s", ip, n.Name, n.Subnet.Prefix)
		}
		names = append(names, n.Name)
	}
	return names, nil
}

// joinNetworks puts a container about to start on its networks: a network
// namespace made ahead of it under the run directory, an address from each
// network's IPAM and a veth to each bridge (eth0, eth1, ... in order; the
// first network's gateway is the default route). It returns the
// namespace's path for the runtime and leave, which undoes it all; on
// error nothing is left.
func joinNetworks(ctx context.Context, root string, rec Record) (path string, eps map[string]Endpoint, leave func(), err error) {
	if len(rec.Host.Networks) == 0 {
		return "", nil, func() {}, nil
	}
	s, done, err := networkStore(root)
	if err != nil {
		return "", nil, nil, err
	}
	path = filepath.Join(RunDir(root), "netns", rec.ID)
	netns.RemoveNamespace(path) // a monitor killed before it could leave
	ns, err := netns.CreateNamespace(path)
	if err != nil {
		done()
		return "", nil, nil, err
	}
	ns.Close()
	eps = map[string]Endpoint{}
	var nets []netns.Network
	leave = func() {
		for _, n := range nets {
			netns.Detach(s.Host(), eps[n.Name].HostIf)
			s.IPAM().ReleaseAddress(context.WithoutCancel(ctx), n.Name, rec.ID)
		}
		netns.RemoveNamespace(path)
		done()
	}
	for i, name := range rec.Host.Networks {
		n, err := s.Get(name)
		if err != nil {
			leave()
			return "", nil, nil, err
		}
		nets = append(nets, n)
		var want netip.Addr
		if i == 0 {
			want = rec.Host.IPv4Address
		}
		addr, err := s.IPAM().RequestAddress(ctx, n.Name, rec.ID, want)
		if err != nil {
			leave()
			return "", nil, nil, err
		}
		ep := Endpoint{NetworkID: n.ID, Address: netip.PrefixFrom(addr, n.Subnet.Prefix.Bits()), Gateway: n.Subnet.Gateway}
		var gw netip.Addr
		if i == 0 {
			gw = n.Subnet.Gateway
		}
		ep.HostIf, err = netns.Attach(s.Host(), netns.Endpoint{Bridge: n.Bridge, NetNS: path, IfName: fmt.Sprintf("eth%d", i),
			Address: ep.Address, Gateway: gw, MTU: n.MTU})
		if err != nil {
			leave()
			return "", nil, nil, fmt.Errorf("joining network %s: %w", n.Name, err)
		}
		a := addr.As4()
		ep.MAC = fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3])
		eps[n.Name] = ep
	}
	return path, eps, leave, nil
}

// NetworkUsers are the names of the running containers with an endpoint
// on the network: those that keep it from being removed, as in Docker,
// where a stopped container holds no endpoint.
func (m *Manager) NetworkUsers(ctx context.Context, name string) []string {
	var out []string
	all, _ := m.List(ctx)
	for _, e := range all {
		if _, ok := e.State.Networks[name]; ok && e.State.Running() {
			out = append(out, e.Record.Name)
		}
	}
	return out
}
