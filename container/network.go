package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/berth-dev/berth/dns"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
)

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
	s, done, err := monitor.NetworkStore(root)
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
	path := monitor.NSPath(m.root, e.Record.ID)
	if _, err := os.Stat(path); err != nil {
		path = fmt.Sprintf("/proc/%d/ns/net", e.State.Pid) // started with loopback only
	}
	s, done, err := monitor.NetworkStore(m.root)
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
	ep, err := monitor.Plug(ctx, s, m.root, rec, name, path, index, len(e.State.Networks) == 0)
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
	dns.RemoveEntry(monitor.DNSDir(m.root), name, e.Record.ID)
	var ep record.Endpoint
	var held bool
	if _, err := m.Store.Update(ctx, e.Record.ID, func(st *record.State) error {
		ep, held = st.Networks[name]
		delete(st.Networks, name)
		return nil
	}); err != nil || !held {
		return err
	}
	s, done, err := monitor.NetworkStore(m.root)
	if err != nil {
		return err
	}
	defer done()
	if err := netns.Detach(s.Host(), ep.HostIf); err != nil {
		return err
	}
	return s.IPAM().ReleaseAddress(ctx, name, e.Record.ID)
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
