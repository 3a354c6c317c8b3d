package netns

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// TestFirewall builds, inside namespaces of its own, a host with three
// berth bridges and an uplink to an "outside" namespace (TEST-NET-1
// addresses, which never leave these namespaces), and checks what a
// container on each bridge can reach: the outside through masquerade from
// a plain network, nothing outside from an internal one, and never a
// container on another bridge.
func TestFirewall(t *testing.T) {
	host, outside := newTestNS(t), newTestNS(t)
	var err error
	host.do(t, func() { err = EnableForwarding() })
	if err != nil {
		t.Fatal(err)
	}
	// the uplink: host 192.0.2.2 <-> outside 192.0.2.1
	attrs := netlink.NewLinkAttrs()
	attrs.Name = "uplink"
	if err := host.handle.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "wan", PeerNamespace: netlink.NsFd(outside.ns)}); err != nil {
		t.Fatal(err)
	}
	for _, side := range []struct {
		ns   testNS
		name string
		addr string
	}{{host, "uplink", "192.0.2.2/24"}, {outside, "wan", "192.0.2.1/24"}} {
		link, _ := side.ns.handle.LinkByName(side.name)
		a, _ := netlink.ParseAddr(side.addr)
		side.ns.handle.AddrAdd(link, a)
		side.ns.handle.LinkSetUp(link)
	}
	nets := []struct {
		bridge, subnet string
		internal       bool
	}{{"br-plain", "10.90.0.0/24", false}, {"br-other", "10.91.0.0/24", false}, {"br-inner", "10.92.0.0/24", true}}
	var rules []Rule
	ctr := map[string]testNS{}
	for _, n := range nets {
		p := netip.MustParsePrefix(n.subnet)
		s := Subnet{Prefix: p, Gateway: p.Addr().Next()}
		if err := CreateBridge(host.handle, n.bridge, s, 0); err != nil {
			t.Fatal(err)
		}
		c := newTestNS(t)
		if _, err := Attach(host.handle, Endpoint{Bridge: n.bridge, NetNS: c.path(), IfName: "eth0",
			Address: netip.PrefixFrom(s.Gateway.Next(), 24), Gateway: s.Gateway}); err != nil {
			t.Fatal(err)
		}
		ctr[n.bridge] = c
		rules = append(rules, Rule{Bridge: n.bridge, Subnet: p, Internal: n.internal})
	}
	conn, err := nftables.New(nftables.WithNetNSFd(int(host.ns)))
	if err != nil {
		t.Fatal(err)
	}
	table := TableName(t.TempDir())
	if err := SyncFirewall(conn, table, rules); err != nil {
		t.Fatal(err)
	}
	// a server in the outside, and one in the other network's container
	servers := map[string]string{}
	for name, where := range map[string]struct {
		ns   testNS
		addr string
	}{"outside": {outside, "192.0.2.1:7000"}, "other": {ctr["br-other"], "10.91.0.2:7000"}} {
		var ln net.Listener
		where.ns.do(t, func() { ln, err = net.Listen("tcp", where.addr) })
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte(c.RemoteAddr().(*net.TCPAddr).IP.String()))
				c.Close()
			}
		}()
		servers[name] = where.addr
	}
	dial := func(from testNS, to string) (string, error) {
		var got string
		var err error
		from.do(t, func() {
			var c net.Conn
			if c, err = net.DialTimeout("tcp", to, 500*time.Millisecond); err == nil {
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				got = string(buf[:n])
				c.Close()
			}
		})
		return got, err
	}
	// the outside sees the host's address, not the container's: masquerade
	if seen, err := dial(ctr["br-plain"], servers["outside"]); err != nil || seen != "192.0.2.2" {
		t.Errorf("plain network to the outside: seen as %q, %v; want 192.0.2.2", seen, err)
	}
	if _, err := dial(ctr["br-inner"], servers["outside"]); err == nil {
		t.Error("an internal network reached the outside")
	}
	if _, err := dial(ctr["br-plain"], servers["other"]); err == nil {
		t.Error("a container reached a container on another network")
	}
	// with no networks left, the table goes
	if err := SyncFirewall(conn, table, nil); err != nil {
		t.Fatal(err)
	}
	tables, _ := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	for _, tb := range tables {
		if tb.Name == table {
			t.Error("the table is still there with no networks")
		}
	}
	// and without the rules the other network is reachable: the isolation
	// above was the firewall's doing, not the test's set-up
	if _, err := dial(ctr["br-plain"], servers["other"]); err != nil {
		t.Errorf("without berth's table, routing between bridges failed: %v", err)
	}
}
