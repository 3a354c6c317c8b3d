package container

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
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

// networkStore opens the networks of the berth root, on the host; close
// releases it.
func networkStore(root string) (s *netns.Store, close func(), err error) {
	return netns.OpenHost(filepath.Join(root, "networks"))
}

// networkNames resolves refs to the names of their networks, and checks
// what the container asks of each (endpoints, by index, may be short): a
// static address in the network's subnet, and not on the default network;
// a unicast MAC; an interface name the kernel takes, once; aliases, on a
// user-defined first network.
func networkNames(ctx context.Context, root string, refs []string, endpoints []record.EndpointSettings, aliases bool) ([]string, error) {
	if len(refs) == 0 {
		for _, es := range endpoints {
			if es.IPv4Address.IsValid() {
				return nil, errclass.New(ErrInvalid, "--ip %s needs --network: the default network does not take static addresses", es.IPv4Address)
			}
		}
		return nil, nil
	}
	s, done, err := networkStore(root)
	if err != nil {
		return nil, err
	}
	defer done()
	var names []string
	ifnames := map[string]bool{}
	for i, ref := range refs {
		var n netns.Network
		if ref == netns.DefaultNetwork {
			n, err = s.Default(ctx)
		} else {
			n, err = s.Get(ref)
		}
		if err != nil {
			return nil, errclass.Wrap(ErrInvalid, err, err.Error())
		}
		if i == 0 && n.IsDefault() && aliases {
			return nil, errclass.New(ErrInvalid, "network-scoped aliases are only supported for user-defined networks")
		}
		var es record.EndpointSettings
		if i < len(endpoints) {
			es = endpoints[i]
		}
		if ip := es.IPv4Address; ip.IsValid() {
			if n.IsDefault() {
				return nil, errclass.New(ErrInvalid, "user specified IP address is supported on user defined networks only")
			}
			if !n.Subnet.Prefix.Contains(ip) {
				return nil, errclass.New(ErrInvalid, "invalid IP address %s: it does not belong to network %s's subnet %s", ip, n.Name, n.Subnet.Prefix)
			}
		}
		if es.MacAddress != "" {
			if mac, err := net.ParseMAC(es.MacAddress); err != nil || len(mac) != 6 || mac[0]&1 == 1 {
				return nil, errclass.New(ErrInvalid, "invalid MAC address %q on network %s: want a unicast Ethernet address", es.MacAddress, n.Name)
			}
		}
		if name := es.InterfaceName; name != "" {
			if len(name) > 15 || name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n") || ifnames[name] {
				return nil, errclass.New(ErrInvalid, "invalid interface name %q on network %s: at most 15 characters, no '/', ':' or spaces, one per network", name, n.Name)
			}
			ifnames[name] = true
		}
		names = append(names, n.Name)
	}
	return names, nil
}

// userDefined reports whether a container is on a network other than the
// default one: those get DNS names and the embedded resolver, as in Docker.
func userDefined(networks []string) bool {
	return slices.ContainsFunc(networks, func(n string) bool { return n != netns.DefaultNetwork })
}

// nsPath is where a networked container's namespace is bind-mounted.
func nsPath(root, id string) string { return filepath.Join(RunDir(root), "netns", id) }

// joinNetworks puts a container about to start on its networks: a network
// namespace made ahead of it under the run directory, an address from each
// network's IPAM and a veth to each bridge (eth0, eth1, ... in order; the
// first network's gateway is the default route). It returns the
// namespace's path for the runtime and the endpoints; on error nothing is
// left. leaveNetworks undoes it.
func joinNetworks(ctx context.Context, root string, rec record.Record) (path string, eps map[string]record.Endpoint, err error) {
	if len(rec.Host.Networks) == 0 {
		return "", nil, nil
	}
	s, done, err := networkStore(root)
	if err != nil {
		return "", nil, err
	}
	defer done()
	// what a restarted firewall took away is put back at every start
	if err := s.CheckFirewall(ctx); err != nil {
		return "", nil, err
	}
	path = nsPath(root, rec.ID)
	netns.RemoveNamespace(path) // a monitor killed before it could leave
	ns, err := netns.CreateNamespace(path)
	if err != nil {
		return "", nil, err
	}
	ns.Close()
	eps = map[string]record.Endpoint{}
	for i, name := range rec.Host.Networks {
		ep, err := plug(ctx, s, root, rec, name, path, i, i == rec.Host.GatewayNetwork())
		if err != nil {
			leaveNetworks(ctx, root, rec.ID, eps)
			return "", nil, err
		}
		eps[name] = ep
	}
	return path, eps, nil
}

// plug puts the container whose network namespace is at path on the
// network name, its index-th: an address (the one its settings ask for,
// if any), a veth (named eth<index>, or as the settings say) and its
// names in the resolvers' table; with gateway, the network's gateway is
// the default route.
func plug(ctx context.Context, s *netns.Store, root string, rec record.Record, name, path string, index int, gateway bool) (record.Endpoint, error) {
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
	if err := dns.WriteEntry(dnsDir(root), dns.Entry{Network: n.Name, Container: id, Names: dnsNames(rec, n.Name), Address: addr, Internal: n.Internal}); err != nil {
		netns.Detach(s.Host(), ep.HostIf)
		s.IPAM().ReleaseAddress(context.WithoutCancel(ctx), n.Name, id)
		return record.Endpoint{}, fmt.Errorf("joining network %s: %w", n.Name, err)
	}
	return ep, nil
}

// leaveNetworks takes a container off its endpoints' networks (veths off
// their bridges, addresses given back) and removes its network namespace,
// whose end takes the veths with it. It
// runs when the container's process has ended, from its monitor or, for a
// monitor that died, from cleanRuntime.
func leaveNetworks(ctx context.Context, root, id string, eps map[string]record.Endpoint) {
	if len(eps) > 0 {
		if s, done, err := networkStore(root); err == nil {
			s.Unpublish(context.WithoutCancel(ctx), id) // a dead monitor's ports
			for name, ep := range eps {
				dns.RemoveEntry(dnsDir(root), name, id)
				netns.Release(s.Host(), ep.HostIf) // the pair goes with the namespace
				s.IPAM().ReleaseAddress(context.WithoutCancel(ctx), name, id)
			}
			done()
		}
	}
	netns.RemoveNamespace(nsPath(root, id))
}

// Connect puts a container on one more network: recorded, so that it joins
// at every start, and joined at once, as the next ethN, if it is running.
func (m *Manager) Connect(ctx context.Context, ref, network string, ip netip.Addr, aliases []string) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if e.Record.Host.HostNetwork {
		return errclass.New(ErrInvalid, "container %s uses the host's network: it cannot join others", e.Record.Name)
	}
	names, err := networkNames(ctx, m.root, []string{network}, []record.EndpointSettings{{IPv4Address: ip}}, len(aliases) > 0)
	if err != nil {
		return err
	}
	name := names[0]
	rec, err := m.Store.UpdateRecord(ctx, e.Record.ID, func(r *record.Record) error {
		if slices.Contains(r.Host.Networks, name) {
			return errclass.New(ErrConflict, "endpoint with name %s already exists in network %s", r.Name, name)
		}
		r.Host.Networks = append(r.Host.Networks, name)
		if len(aliases) > 0 {
			if r.Host.Aliases == nil {
				r.Host.Aliases = map[string][]string{}
			}
			r.Host.Aliases[name] = aliases
		}
		if ip.IsValid() {
			// kept, to be had again at each start
			if r.Host.Endpoints == nil {
				r.Host.Endpoints = map[string]record.EndpointSettings{}
			}
			es := r.Host.Endpoints[name]
			es.IPv4Address = ip
			r.Host.Endpoints[name] = es
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !e.State.Running() {
		return nil
	}
	path := nsPath(m.root, e.Record.ID)
	if _, err := os.Stat(path); err != nil {
		path = fmt.Sprintf("/proc/%d/ns/net", e.State.Pid) // started with loopback only
	}
	s, done, err := networkStore(m.root)
	if err != nil {
		return err
	}
	defer done()
	// the first free ethN: after a disconnect, a gap
	index := 0
	for slices.ContainsFunc(slices.Collect(maps.Values(e.State.Networks)), func(ep record.Endpoint) bool { return ep.IfName == fmt.Sprintf("eth%d", index) }) {
		index++
	}
	// a network joined later gives the default route only to a container
	// that had none
	ep, err := plug(ctx, s, m.root, rec, name, path, index, len(e.State.Networks) == 0)
	if err != nil {
		if _, uerr := m.Store.UpdateRecord(ctx, e.Record.ID, func(r *record.Record) error {
			r.Host.Networks = slices.DeleteFunc(r.Host.Networks, func(n string) bool { return n == name })
			return nil
		}); uerr != nil {
			err = errors.Join(err, fmt.Errorf("taking network %s off the container's record again: %w", name, uerr))
		}
		return err
	}
	_, err = m.Store.Update(ctx, e.Record.ID, func(st *record.State) error {
		if st.Networks == nil {
			st.Networks = map[string]record.Endpoint{}
		}
		st.Networks[name] = ep
		return nil
	})
	return err
}

// Disconnect takes a container off a network: no longer joined at start,
// and left at once if it is running.
func (m *Manager) Disconnect(ctx context.Context, ref, network string) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	names, err := networkNames(ctx, m.root, []string{network}, nil, false)
	if err != nil {
		return err
	}
	name := names[0]
	if _, err := m.Store.UpdateRecord(ctx, e.Record.ID, func(r *record.Record) error {
		if !slices.Contains(r.Host.Networks, name) {
			return errclass.New(ErrInvalid, "container %s is not connected to network %s", r.Name, name)
		}
		r.Host.Networks = slices.DeleteFunc(r.Host.Networks, func(n string) bool { return n == name })
		delete(r.Host.Aliases, name)
		return nil
	}); err != nil {
		return err
	}
	dns.RemoveEntry(dnsDir(m.root), name, e.Record.ID)
	var ep record.Endpoint
	var held bool
	if _, err := m.Store.Update(ctx, e.Record.ID, func(st *record.State) error {
		ep, held = st.Networks[name]
		delete(st.Networks, name)
		return nil
	}); err != nil || !held {
		return err
	}
	s, done, err := networkStore(m.root)
	if err != nil {
		return err
	}
	defer done()
	if err := netns.Detach(s.Host(), ep.HostIf); err != nil {
		return err
	}
	return s.IPAM().ReleaseAddress(ctx, name, e.Record.ID)
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
		return "", errclass.New(ErrState, "cannot join network namespace of a non running container: container %s is %s", owner.Record.Name, owner.State.Status)
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
	path := nsPath(root, owner.Record.ID)
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

// NetworkMember is one container of network inspect's Containers, in
// Docker's shape.
type NetworkMember struct {
	Name        string
	EndpointID  string
	MacAddress  string
	IPv4Address string
	IPv6Address string
}

// NetworkMembers are the containers attached to the network networkID now,
// by container ID, as network inspect shows them. An endpoint's ID is
// derived from the container and the network: berth keeps none of its own.
func NetworkMembers(entries []record.Entry, networkID string) map[string]NetworkMember {
	out := map[string]NetworkMember{}
	for _, e := range entries {
		for _, ep := range e.State.Networks {
			if ep.NetworkID != networkID {
				continue
			}
			sum := sha256.Sum256([]byte(e.Record.ID + "/" + networkID))
			out[e.Record.ID] = NetworkMember{Name: e.Record.Name, EndpointID: hex.EncodeToString(sum[:]), MacAddress: ep.MAC, IPv4Address: ep.Address.String()}
		}
	}
	return out
}
