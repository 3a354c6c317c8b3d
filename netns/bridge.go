package netns

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errclass"
)

// ErrNotFound: no such bridge or interface.
var ErrNotFound = errclass.Sentinel(errclass.ErrNotFound, "not found")

// CreateBridge makes the Linux bridge name in the namespace h looks at,
// with the subnet's gateway as its address, and brings it up. A bridge
// that already exists is a conflict: two networks never share one. If a
// step fails, the bridge is removed again.
func CreateBridge(h *netlink.Handle, name string, s Subnet, mtu int) error {
	if len(name) > unix.IFNAMSIZ-1 {
		return errclass.New(ErrInvalid, "bridge name %q is longer than %d characters", name, unix.IFNAMSIZ-1)
	}
	if _, err := h.LinkByName(name); err == nil {
		return errclass.New(ErrConflict, "bridge %s already exists", name)
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU = name, mtu
	br := &netlink.Bridge{LinkAttrs: attrs}
	if err := h.LinkAdd(br); err != nil {
		return fmt.Errorf("creating bridge %s: %w", name, err)
	}
	gw := &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(s.Gateway, s.Prefix.Bits()))}
	if err := h.AddrAdd(br, gw); err != nil {
		h.LinkDel(br)
		return fmt.Errorf("giving bridge %s address %s: %w", name, s.Gateway, err)
	}
	if err := h.LinkSetUp(br); err != nil {
		h.LinkDel(br)
		return fmt.Errorf("bringing bridge %s up: %w", name, err)
	}
	return nil
}

// DeleteBridge removes the bridge name; one already gone is not an error,
// so that removing a network can be retried after a crash.
func DeleteBridge(h *netlink.Handle, name string) error {
	return deleteLink(h, name, "bridge "+name)
}

// existingLink is the link name, or nil when it is gone.
func existingLink(h *netlink.Handle, name, what string) (netlink.Link, error) {
	link, err := h.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("finding %s: %w", what, err)
	}
	return link, nil
}

// deleteLink removes the link name, if it is still there.
func deleteLink(h *netlink.Handle, name, what string) error {
	link, err := existingLink(h, name, what)
	if link == nil {
		return err
	}
	if err := h.LinkDel(link); err != nil {
		return fmt.Errorf("removing %s: %w", what, err)
	}
	return nil
}

// Endpoint is a container's interface on one network.
type Endpoint struct {
	// Bridge is the network's bridge, in the namespace of the handle
	// Attach is given.
	Bridge string
	// NetNS is the path of the container's network namespace, such as
	// /proc/PID/ns/net.
	NetNS string
	// IfName is the interface's name in the container: eth0, eth1, ...
	// in attach order.
	IfName string
	// Address is the container's address with its subnet's length.
	Address netip.Prefix
	// Gateway, when valid, becomes the container's default route: only
	// the first network a container joins sets it.
	Gateway netip.Addr
	// MAC is the interface's address; empty is Docker's form derived from
	// the IPv4 address (02:42 and its four bytes).
	MAC net.HardwareAddr
	MTU int
}

// Attach connects the container to the bridge: a veth pair whose host end
// joins the bridge and whose other end is moved into the container's
// namespace, renamed to IfName, addressed and brought up with loopback. It
// returns the host end's name, for Detach. Nothing is left of a pair whose
// set-up failed.
func Attach(h *netlink.Handle, ep Endpoint) (string, error) {
	br, err := h.LinkByName(ep.Bridge)
	if err != nil {
		return "", errclass.Wrap(ErrNotFound, err, fmt.Sprintf("bridge %s not found", ep.Bridge))
	}
	target, err := vnetns.GetFromPath(ep.NetNS)
	if err != nil {
		return "", fmt.Errorf("opening network namespace %s: %w", ep.NetNS, err)
	}
	defer target.Close()
	inside, err := netlink.NewHandleAt(target)
	if err != nil {
		return "", fmt.Errorf("entering network namespace %s: %w", ep.NetNS, err)
	}
	defer inside.Close()
	// both ends get random names first: the host end keeps its own, the
	// container's end is renamed once in its namespace, where eth0 is free
	id := make([]byte, 4)
	rand.Read(id)
	hostName, peerName := "vb"+hex.EncodeToString(id), "vp"+hex.EncodeToString(id)
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU, attrs.MasterIndex = hostName, ep.MTU, br.Attrs().Index
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: peerName, PeerNamespace: netlink.NsFd(target)}
	if err := h.LinkAdd(veth); err != nil {
		return "", fmt.Errorf("creating veth pair for %s: %w", ep.Bridge, err)
	}
	if err := configureInside(inside, peerName, ep); err != nil {
		h.LinkDel(veth) // deleting one end deletes the pair
		return "", err
	}
	// hairpin: where bridged traffic passes netfilter (br_netfilter, as
	// on this machine), a container's connection to its own published
	// port is DNATed at the bridge and must leave by the port it came in
	// by, which a bridge refuses unless the port is in hairpin mode
	if err := h.LinkSetHairpin(veth, true); err != nil {
		h.LinkDel(veth)
		return "", fmt.Errorf("setting hairpin mode on %s: %w", hostName, err)
	}
	if err := h.LinkSetUp(veth); err != nil {
		h.LinkDel(veth)
		return "", fmt.Errorf("bringing %s up: %w", hostName, err)
	}
	return hostName, nil
}

// configureInside renames, addresses and raises the container's end.
func configureInside(h *netlink.Handle, peer string, ep Endpoint) error {
	link, err := h.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("finding %s in %s: %w", peer, ep.NetNS, err)
	}
	if err := h.LinkSetName(link, ep.IfName); err != nil {
		return fmt.Errorf("naming %s in %s: %w", ep.IfName, ep.NetNS, err)
	}
	mac := ep.MAC
	if len(mac) == 0 {
		mac = MAC(ep.Address.Addr())
	}
	if err := h.LinkSetHardwareAddr(link, mac); err != nil {
		return fmt.Errorf("setting %s's MAC address %s: %w", ep.IfName, mac, err)
	}
	if err := h.AddrAdd(link, &netlink.Addr{IPNet: ipNet(ep.Address)}); err != nil {
		return fmt.Errorf("giving %s address %s: %w", ep.IfName, ep.Address, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing %s up: %w", ep.IfName, err)
	}
	if lo, err := h.LinkByName("lo"); err == nil {
		h.LinkSetUp(lo)
	}
	if ep.Gateway.IsValid() {
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: ep.Gateway.AsSlice()}
		if err := h.RouteAdd(route); err != nil {
			return fmt.Errorf("adding default route via %s: %w", ep.Gateway, err)
		}
	}
	return nil
}

// Detach removes the veth pair whose host end is hostIf; one already gone
// (its container's namespace died, taking the pair with it) is not an
// error.
func Detach(h *netlink.Handle, hostIf string) error {
	return deleteLink(h, hostIf, "veth "+hostIf)
}

// Release takes the veth pair whose host end is hostIf off its bridge and
// leaves the pair to the kernel, which deletes it with the container's
// network namespace: it is for a container whose namespace is about to go.
// Deleting the pair here would wait out RCU grace periods under the RTNL
// lock (15-30 ms on a small machine, one pair at a time across every
// container stopping), where the namespace's teardown runs in the
// background and batches them. Off the bridge, the lingering end can no
// longer answer for an address that the IPAM hands out again meanwhile.
// A pair already gone is not an error.
func Release(h *netlink.Handle, hostIf string) error {
	link, err := existingLink(h, hostIf, "veth "+hostIf)
	if link == nil {
		return err
	}
	if err := h.LinkSetNoMaster(link); err != nil {
		return fmt.Errorf("taking veth %s off its bridge: %w", hostIf, err)
	}
	return nil
}

// MAC is Docker's MAC address for an endpoint's IPv4 address: 02:42, a
// locally administered prefix, then the address's four bytes, so that it
// is unique wherever the address is.
func MAC(addr netip.Addr) net.HardwareAddr {
	a := addr.As4()
	return net.HardwareAddr{0x02, 0x42, a[0], a[1], a[2], a[3]}
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
