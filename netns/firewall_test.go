package netns

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
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
	host, outside := uplinked(t)
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
		go tellPeer(ln)
		servers[name] = where.addr
	}
	// the outside sees the host's address, not the container's: masquerade
	if seen, err := ask(t, ctr["br-plain"], "tcp", servers["outside"]); err != nil || seen != "192.0.2.2" {
		t.Errorf("plain network to the outside: seen as %q, %v; want 192.0.2.2", seen, err)
	}
	if _, err := ask(t, ctr["br-inner"], "tcp", servers["outside"]); err == nil {
		t.Error("an internal network reached the outside")
	}
	if _, err := ask(t, ctr["br-plain"], "tcp", servers["other"]); err == nil {
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
	if _, err := ask(t, ctr["br-plain"], "tcp", servers["other"]); err != nil {
		t.Errorf("without berth's table, routing between bridges failed: %v", err)
	}
}

// uplinked makes a host namespace, with forwarding on, and an outside one
// joined by an uplink: host 192.0.2.2 <-> outside 192.0.2.1 (TEST-NET-1).
func uplinked(t testing.TB) (host, outside testNS) {
	host, outside = newTestNS(t), newTestNS(t)
	var err error
	host.do(t, func() { err = EnableForwarding() })
	if err != nil {
		t.Fatal(err)
	}
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
	return host, outside
}

// TestPublish publishes a container's TCP and UDP ports and reaches them
// from every side Docker users do: the outside through the host's address
// (the container sees the client's own address), the host itself through
// 127.0.0.1 and through its other addresses, and the container through its
// own published port (hairpin). A port bound to 127.0.0.1 is not reachable
// from outside.
func TestPublish(t *testing.T) {
	host, outside := uplinked(t)
	p := netip.MustParsePrefix("10.93.0.0/24")
	s := Subnet{Prefix: p, Gateway: p.Addr().Next()}
	if err := CreateBridge(host.handle, "br-pub", s, 0); err != nil {
		t.Fatal(err)
	}
	lo, _ := host.handle.LinkByName("lo")
	host.handle.LinkSetUp(lo)
	var err error
	host.do(t, func() { err = EnableLocalnet("br-pub") })
	if err != nil {
		t.Fatal(err)
	}
	ctr := newTestNS(t)
	caddr := s.Gateway.Next()
	if _, err := Attach(host.handle, Endpoint{Bridge: "br-pub", NetNS: ctr.path(), IfName: "eth0",
		Address: netip.PrefixFrom(caddr, 24), Gateway: s.Gateway}); err != nil {
		t.Fatal(err)
	}
	// the container's servers answer with the address they see
	var ln net.Listener
	var pc net.PacketConn
	ctr.do(t, func() {
		if ln, err = net.Listen("tcp", ":80"); err == nil {
			pc, err = net.ListenPacket("udp", ":53")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer pc.Close()
	go tellPeer(ln)
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(from.(*net.UDPAddr).IP.String()), from)
		}
	}()
	pub := Published{Address: caddr, Bindings: []Binding{
		{HostPort: 8080, Port: 80, Proto: "tcp"},
		{HostPort: 8053, Port: 53, Proto: "udp"},
		{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 9090, Port: 80, Proto: "tcp"},
	}}
	conn, err := nftables.New(nftables.WithNetNSFd(int(host.ns)))
	if err != nil {
		t.Fatal(err)
	}
	table := TableName(t.TempDir())
	if err := SyncFirewall(conn, table, []Rule{{Bridge: "br-pub", Subnet: p, Ports: []Published{pub}}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what        string
		from        testNS
		network, to string
		seen        string // "" when it must fail
	}{
		{"outside to the host's address", outside, "tcp", "192.0.2.2:8080", "192.0.2.1"},
		{"outside over UDP", outside, "udp", "192.0.2.2:8053", "192.0.2.1"},
		{"host to 127.0.0.1", host, "tcp", "127.0.0.1:8080", s.Gateway.String()},
		{"host to its uplink address", host, "tcp", "192.0.2.2:8080", "192.0.2.2"},
		{"host to 127.0.0.1 over UDP", host, "udp", "127.0.0.1:8053", s.Gateway.String()},
		{"hairpin: the container to its own published port", ctr, "tcp", "192.0.2.2:8080", s.Gateway.String()},
		{"host to a port bound on 127.0.0.1", host, "tcp", "127.0.0.1:9090", s.Gateway.String()},
		{"outside to a port bound on 127.0.0.1", outside, "tcp", "192.0.2.2:9090", ""},
	} {
		seen, err := ask(t, c.from, c.network, c.to)
		switch {
		case c.seen == "" && err == nil:
			t.Errorf("%s: reached the container (seen as %q); want refused", c.what, seen)
		case c.seen != "" && (err != nil || seen != c.seen):
			t.Errorf("%s: seen as %q, %v; want %q", c.what, seen, err, c.seen)
		}
	}
	if err := SyncFirewall(conn, table, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ask(t, outside, "tcp", "192.0.2.2:8080"); err == nil {
		t.Error("the port is still published after the table went")
	}
}

// TestReserve holds published ports against everyone else: a second
// reservation of a taken port fails, naming it, and a free port is picked
// when none is asked for, or from a range.
func TestReserve(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	b, r, err := Reserve([]PortMapping{{HostIP: lo, Port: 80, Proto: "tcp"}, {HostIP: lo, Port: 53, Proto: "udp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if b[0].HostPort == 0 || b[1].HostPort == 0 {
		t.Fatalf("no port picked: %+v", b)
	}
	taken := b[0].HostPort
	if _, err := net.Listen("tcp", netip.AddrPortFrom(lo, taken).String()); err == nil {
		t.Errorf("another process could listen on reserved port %d", taken)
	}
	_, _, err = Reserve([]PortMapping{{HostIP: lo, HostPort: taken, Port: 80, Proto: "tcp"}})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), fmt.Sprintf("127.0.0.1:%d failed: port is already allocated", taken)) {
		t.Errorf("reserving a taken port: %v", err)
	}
	// a range whose first port is taken gives the next
	b2, r2, err := Reserve([]PortMapping{{HostIP: lo, HostPort: taken, HostPortEnd: taken + 5, Port: 80, Proto: "tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	if b2[0].HostPort <= taken || b2[0].HostPort > taken+5 {
		t.Errorf("from range %d-%d: got %d", taken, taken+5, b2[0].HostPort)
	}
	r2.Release()
	r.Release()
	if ln, err := net.Listen("tcp", netip.AddrPortFrom(lo, taken).String()); err != nil {
		t.Errorf("released port %d still taken: %v", taken, err)
	} else {
		ln.Close()
	}
}

// TestReserveAfterTimeWait: a port on which a connection just ended, its
// server's side waiting out TIME-WAIT, is free to publish, as in Docker;
// one with a listener on it is not.
func TestReserveAfterTimeWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close() // the server closes first: its side goes to TIME-WAIT
	io.ReadAll(c)
	c.Close()
	ln.Close()
	lo := netip.MustParseAddr("127.0.0.1")
	_, r, err := Reserve([]PortMapping{{HostIP: lo, HostPort: port, Port: 80, Proto: "tcp"}})
	if err != nil {
		t.Fatalf("a port whose last connection is in TIME-WAIT: %v", err)
	}
	r.Release()
	ln, err = net.Listen("tcp", netip.AddrPortFrom(lo, port).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, _, err := Reserve([]PortMapping{{HostIP: lo, HostPort: port, Port: 80, Proto: "tcp"}}); !errors.Is(err, ErrConflict) {
		t.Errorf("a port with a listener: %v; want ErrConflict", err)
	}
}

func TestParsePorts(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // the mappings, %v-formatted; "" for an error
	}{
		{"80", "[{invalid IP 0 0 80 tcp}]"},
		{"8080:80", "[{invalid IP 8080 0 80 tcp}]"},
		{"127.0.0.1:8080:80/udp", "[{127.0.0.1 8080 0 80 udp}]"},
		{"127.0.0.1::80", "[{127.0.0.1 0 0 80 tcp}]"},
		{"0.0.0.0:53:53/udp", "[{invalid IP 53 0 53 udp}]"},
		{"8000-8001:80-81", "[{invalid IP 8000 0 80 tcp} {invalid IP 8001 0 81 tcp}]"},
		{"8000-8010:80", "[{invalid IP 8000 8010 80 tcp}]"},
		{"80-81", "[{invalid IP 0 0 80 tcp} {invalid IP 0 0 81 tcp}]"},
		{"8000-8002:80-81", ""},
		{"80/sctp", ""},
		{"x:80", ""},
		{"0", ""},
		{"1:2:3:4", ""},
		{"[::1]:80:80", ""},
		{"70000", ""},
		{"90-80", ""},
	} {
		got, err := ParsePorts(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("%q: no error, got %v", c.in, got)
			} else if !errors.Is(err, ErrInvalid) {
				t.Errorf("%q: error %v is not ErrInvalid", c.in, err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("%q: got %v, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"80", "8080:80", "127.0.0.1:8080:80/udp", "8000-8001:80-81", "[::1]:1:2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParsePorts(s)
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.Port == 0 || (m.Proto != "tcp" && m.Proto != "udp") || (m.HostPortEnd != 0 && m.HostPortEnd <= m.HostPort) {
				t.Errorf("%q gave %+v", s, m)
			}
		}
	})
}

// BenchmarkPublishedPort streams TCP from the "outside" namespace to a
// container, through its published port (DNAT) and, for comparison,
// straight to its address (routed), in MB/s: the cost of publishing, with
// no proxy in the path.
func BenchmarkPublishedPort(b *testing.B) {
	host, outside := uplinked(b)
	p := netip.MustParsePrefix("10.94.0.0/24")
	s := Subnet{Prefix: p, Gateway: p.Addr().Next()}
	if err := CreateBridge(host.handle, "br-bench", s, 0); err != nil {
		b.Fatal(err)
	}
	ctr := newTestNS(b)
	caddr := s.Gateway.Next()
	if _, err := Attach(host.handle, Endpoint{Bridge: "br-bench", NetNS: ctr.path(), IfName: "eth0",
		Address: netip.PrefixFrom(caddr, 24), Gateway: s.Gateway}); err != nil {
		b.Fatal(err)
	}
	wan, _ := outside.handle.LinkByName("wan")
	_, dst, _ := net.ParseCIDR("10.94.0.0/24")
	if err := outside.handle.RouteAdd(&netlink.Route{LinkIndex: wan.Attrs().Index, Dst: dst, Gw: net.IPv4(192, 0, 2, 2)}); err != nil {
		b.Fatal(err)
	}
	var ln net.Listener
	var err error
	ctr.do(b, func() { ln, err = net.Listen("tcp", ":80") })
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	conn, err := nftables.New(nftables.WithNetNSFd(int(host.ns)))
	if err != nil {
		b.Fatal(err)
	}
	pub := Published{Address: caddr, Bindings: []Binding{{HostPort: 8080, Port: 80, Proto: "tcp"}}}
	if err := SyncFirewall(conn, TableName(b.TempDir()), []Rule{{Bridge: "br-bench", Subnet: p, Ports: []Published{pub}}}); err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for _, c := range []struct{ name, addr string }{{"published", "192.0.2.2:8080"}, {"direct", caddr.String() + ":80"}} {
		b.Run(c.name, func(b *testing.B) {
			var conn net.Conn
			outside.do(b, func() { conn, err = net.Dial("tcp", c.addr) })
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			b.SetBytes(int64(len(chunk)))
			for b.Loop() {
				if _, err := conn.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// tellPeer answers each connection on ln with the address it came from,
// and closes it: what a test server needs to show NAT at work.
func tellPeer(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write([]byte(c.RemoteAddr().(*net.TCPAddr).IP.String()))
		c.Close()
	}
}

// ask connects from a namespace to a server of the test's (over UDP it
// sends a datagram first) and returns what it answers.
func ask(t *testing.T, from testNS, network, to string) (string, error) {
	var got string
	var err error
	from.do(t, func() {
		var c net.Conn
		// 2 s: time for TCP's first retransmission (after 1 s), should
		// the very first SYN over links just made be dropped
		if c, err = net.DialTimeout(network, to, 2*time.Second); err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		if network == "udp" {
			c.Write([]byte("?"))
		}
		buf := make([]byte, 64)
		var n int
		n, err = c.Read(buf)
		got = string(buf[:n])
	})
	return got, err
}
