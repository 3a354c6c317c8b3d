package netns

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
)

// HostPrefixes lists what a new subnet must keep clear of on the host
// that handle looks at: the destinations of its IPv4 routes (the default
// route aside: it overlaps everything and is what NAT goes out by), the
// subnets of its addresses, and its nameservers from resolvConf, whose
// queries a bridge claiming their range would swallow.
func HostPrefixes(handle *netlink.Handle, resolvConf string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	// table UNSPEC with the table filter is every table, not only main:
	// a VPN's policy routes count too
	routes, err := handle.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: 0}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("listing routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		if p, ok := prefixOf(r.Dst.IP, r.Dst.Mask); ok && p.Bits() > 0 {
			out = append(out, p)
		}
	}
	addrs, err := handle.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	for _, a := range addrs {
		if p, ok := prefixOf(a.IP, a.Mask); ok {
			out = append(out, p)
		}
	}
	data, err := os.ReadFile(resolvConf)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "nameserver" {
			if addr, err := netip.ParseAddr(f[1]); err == nil && addr.Is4() {
				out = append(out, netip.PrefixFrom(addr, 32))
			}
		}
	}
	return out, nil
}

func prefixOf(ip []byte, mask []byte) (netip.Prefix, bool) {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Prefix{}, false
	}
	ones := 0
	for _, b := range mask {
		for ; b&0x80 != 0; b <<= 1 {
			ones++
		}
	}
	return netip.PrefixFrom(addr.Unmap(), ones).Masked(), true
}
