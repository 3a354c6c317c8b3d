package netns

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables"
)

// TestFilter stands a host, in namespaces of the test's own, behind a
// filter table whose FORWARD policy is DROP, as Docker, ufw and firewalld's
// iptables backend leave it (with br_netfilter, which sends even packets
// bridged between two containers of one bridge through that chain), once
// with iptables-nft and once with iptables-legacy. Without berth's chain
// nothing passes; with it containers reach each other on their network,
// the outside through NAT, and a published port is reached from outside,
// while two networks stay apart and an internal network stays cut off. A
// flush of FORWARD (a restarting Docker or a firewall reload) is seen and
// repaired, and removing the networks takes berth's chain away and leaves
// the host's policy as it was.
func TestFilter(t *testing.T) {
	for _, program := range []string{"iptables-nft", "iptables-legacy"} {
		t.Run(program, func(t *testing.T) {
			if _, err := exec.LookPath(program); err != nil {
				t.Skipf("%s is not installed (Debian's iptables package has it)", program)
			}
			testFilter(t, program)
		})
	}
}

func testFilter(t *testing.T, program string) {
	host, outside := uplinked(t)
	ipt := func(args ...string) string {
		t.Helper()
		var out []byte
		var err error
		host.do(t, func() { out, err = exec.Command(program, append([]string{"-w", "5"}, args...)...).CombinedOutput() })
		if err != nil {
			t.Fatalf("%s %s: %v: %s", program, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ipt("-P", "FORWARD", "DROP")
	lo, _ := host.handle.LinkByName("lo")
	host.handle.LinkSetUp(lo)

	// two plain networks, one with two containers, and an internal one
	type ctr struct {
		ns   testNS
		addr netip.Addr
	}
	ctrs := map[string]ctr{}
	var rules []Rule
	for _, n := range []struct {
		bridge, subnet string
		internal       bool
		names          []string
	}{{"br-fa", "10.94.0.0/24", false, []string{"a1", "a2"}}, {"br-fb", "10.95.0.0/24", false, []string{"b1"}},
		{"br-fi", "10.96.0.0/24", true, []string{"i1", "i2"}}} {
		p := netip.MustParsePrefix(n.subnet)
		s := Subnet{Prefix: p, Gateway: p.Addr().Next()}
		if err := CreateBridge(host.handle, n.bridge, s, 0); err != nil {
			t.Fatal(err)
		}
		var err error
		host.do(t, func() { err = EnableLocalnet(n.bridge) })
		if err != nil {
			t.Fatal(err)
		}
		a := s.Gateway
		for _, name := range n.names {
			a = a.Next()
			c := ctr{newTestNS(t), a}
			if _, err := Attach(host.handle, Endpoint{Bridge: n.bridge, NetNS: c.ns.path(), IfName: "eth0",
				Address: netip.PrefixFrom(a, 24), Gateway: s.Gateway}); err != nil {
				t.Fatal(err)
			}
			ctrs[name] = c
		}
		rules = append(rules, Rule{Bridge: n.bridge, Subnet: p, Internal: n.internal})
	}
	rules[0].Ports = []Published{{Address: ctrs["a1"].addr, Bindings: []Binding{{HostPort: 8080, Port: 7000, Proto: "tcp"}}}}

	// every container serves on :7000, and the outside on 192.0.2.1:7000
	serve := func(ns testNS, addr string) {
		var ln net.Listener
		var err error
		ns.do(t, func() { ln, err = net.Listen("tcp", addr) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go tellPeer(ln)
	}
	for _, c := range ctrs {
		serve(c.ns, netip.AddrPortFrom(c.addr, 7000).String())
	}
	serve(outside, "192.0.2.1:7000")

	type check struct {
		what string
		from testNS
		to   string
		seen string // "" when it must not pass
	}
	checks := []check{
		{"a container to another on its network", ctrs["a1"].ns, "10.94.0.3:7000", "10.94.0.2"},
		{"a container to the outside, through NAT", ctrs["a2"].ns, "192.0.2.1:7000", "192.0.2.2"},
		{"the outside to a published port", outside, "192.0.2.2:8080", "192.0.2.1"},
		{"a container to one on an internal network", ctrs["i1"].ns, "10.96.0.3:7000", "10.96.0.2"},
		{"a container to one on another network", ctrs["a1"].ns, "10.95.0.2:7000", ""},
		{"an internal network to the outside", ctrs["i1"].ns, "192.0.2.1:7000", ""},
	}
	verify := func(when string, checks []check) {
		t.Helper()
		for _, c := range checks {
			seen, err := ask(t, c.from, "tcp", c.to)
			switch {
			case c.seen == "" && err == nil:
				t.Errorf("%s: %s passed (seen as %q); want dropped", when, c.what, seen)
			case c.seen != "" && (err != nil || seen != c.seen):
				t.Errorf("%s: %s: seen as %q, %v; want %q", when, c.what, seen, err, c.seen)
			}
		}
	}

	conn, err := nftables.New(nftables.WithNetNSFd(int(host.ns)))
	if err != nil {
		t.Fatal(err)
	}
	table := TableName(t.TempDir())
	if err := SyncFirewall(conn, table, rules); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { SyncFirewall(conn, table, nil) })
	// the drop policy is what stops them: berth's table alone does not
	// get the first check through
	verify("with berth's table alone", []check{{checks[0].what, checks[0].from, checks[0].to, ""}})

	var f Filter
	host.do(t, func() { f = HostFilter(conn) })
	if len(f.Programs) != 1 {
		t.Fatalf("HostFilter found %v; want the %s that made the filter table", f.Programs, program)
	}
	ctx := context.Background()
	sync := func(rules []Rule) {
		t.Helper()
		var err error
		host.do(t, func() { err = f.Sync(ctx, table, rules) })
		if err != nil {
			t.Fatal(err)
		}
	}
	holds := func() (ok bool) {
		host.do(t, func() { ok = f.Holds(ctx, table, rules) })
		return ok
	}
	sync(rules)
	verify("with berth's chain", checks)
	if !holds() {
		t.Errorf("Holds is false right after Sync:\n%s", ipt("-S"))
	}
	sync(rules) // a second Sync changes nothing
	if got := strings.Count(ipt("-S", "FORWARD"), "-j "+table); got != 1 {
		t.Errorf("%d jumps to berth's chain after a second Sync; want 1", got)
	}

	// Docker's restart, or a firewall reload, flushes FORWARD
	ipt("-F", "FORWARD")
	if holds() {
		t.Error("Holds is true after FORWARD was flushed")
	}
	sync(rules)
	verify("after FORWARD was flushed and berth's chain put back", checks[:1])

	// no networks: the chain and its jump go, the host's policy stays
	sync(nil)
	all := ipt("-S")
	if strings.Contains(all, table) {
		t.Errorf("berth's chain is still there with no networks:\n%s", all)
	}
	if !strings.Contains(all, "-P FORWARD DROP") {
		t.Errorf("the host's FORWARD policy changed:\n%s", all)
	}
}
