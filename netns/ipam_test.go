package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/berth-dev/berth/internal/fixture"
)

// noHost is a host with nothing on it to keep clear of.
func noHost() ([]netip.Prefix, error) { return nil, nil }

func newIPAM(t *testing.T, pools []Pool, host func() ([]netip.Prefix, error)) *IPAM {
	t.Helper()
	p, err := NewIPAM(t.TempDir(), pools, host)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSubnets(t *testing.T) {
	ctx := context.Background()
	p := newIPAM(t, []Pool{{netip.MustParsePrefix("10.90.0.0/16"), 24}}, noHost)
	a, err := p.RequestSubnet(ctx, "a", Subnet{})
	if err != nil || a.Prefix.String() != "10.90.0.0/24" || a.Gateway.String() != "10.90.0.1" {
		t.Fatalf("first subnet %+v, %v", a, err)
	}
	// a user's subnet inside the pool is skipped by later automatic ones
	if _, err := p.RequestSubnet(ctx, "b", Subnet{Prefix: netip.MustParsePrefix("10.90.1.0/24")}); err != nil {
		t.Fatal(err)
	}
	c, _ := p.RequestSubnet(ctx, "c", Subnet{})
	if c.Prefix.String() != "10.90.2.0/24" {
		t.Errorf("third subnet %s, want 10.90.2.0/24", c.Prefix)
	}
	for _, tc := range []struct {
		want  Subnet
		class error
	}{
		{Subnet{Prefix: netip.MustParsePrefix("10.90.0.128/25")}, ErrConflict},
		{Subnet{Prefix: netip.MustParsePrefix("10.0.0.0/8")}, ErrConflict},
		{Subnet{Prefix: netip.MustParsePrefix("10.91.0.5/24")}, ErrInvalid},
		{Subnet{Prefix: netip.MustParsePrefix("10.91.0.0/24"), Gateway: netip.MustParseAddr("10.92.0.1")}, ErrInvalid},
		{Subnet{Prefix: netip.MustParsePrefix("10.91.0.0/24"), Gateway: netip.MustParseAddr("10.91.0.255")}, ErrInvalid},
		{Subnet{Prefix: netip.MustParsePrefix("10.91.0.0/24"), Range: netip.MustParsePrefix("10.91.1.0/28")}, ErrInvalid},
		{Subnet{Prefix: netip.MustParsePrefix("fd00::/64")}, ErrInvalid},
	} {
		if _, err := p.RequestSubnet(ctx, "x", tc.want); !errors.Is(err, tc.class) {
			t.Errorf("%+v: %v, want %v", tc.want, err, tc.class)
		}
	}
	if _, err := p.RequestSubnet(ctx, "a", Subnet{}); !errors.Is(err, ErrConflict) {
		t.Errorf("a second subnet for one network: %v", err)
	}
	// released subnets are handed out again, and allocations persist
	if err := p.ReleaseSubnet(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	again, _ := NewIPAM(p.dir, p.pools, noHost)
	if d, _ := again.RequestSubnet(ctx, "d", Subnet{}); d.Prefix.String() != "10.90.0.0/24" {
		t.Errorf("after release: %s, want 10.90.0.0/24", d.Prefix)
	}
	if e, _ := again.RequestSubnet(ctx, "e", Subnet{}); e.Prefix.String() != "10.90.3.0/24" {
		t.Errorf("a new IPAM on the same directory handed out %s, want 10.90.3.0/24", e.Prefix)
	}
}

func TestPoolExhausted(t *testing.T) {
	ctx := context.Background()
	p := newIPAM(t, []Pool{{netip.MustParsePrefix("10.90.0.0/23"), 24}}, noHost)
	for _, n := range []string{"a", "b"} {
		if _, err := p.RequestSubnet(ctx, n, Subnet{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.RequestSubnet(ctx, "c", Subnet{}); !errors.Is(err, ErrExhausted) {
		t.Errorf("a third /24 from a /23: %v", err)
	}
}

// TestConcurrentSubnets: networks created at once, as `up` does, never
// share a subnet.
func TestConcurrentSubnets(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var wg sync.WaitGroup
	got := make([]netip.Prefix, 16)
	for i := range got {
		wg.Go(func() {
			// one IPAM each, as separate berth processes would have
			p, _ := NewIPAM(dir, DefaultPools, noHost)
			s, err := p.RequestSubnet(ctx, fmt.Sprint("net", i), Subnet{})
			if err != nil {
				t.Error(err)
			}
			got[i] = s.Prefix
		})
	}
	wg.Wait()
	seen := map[netip.Prefix]bool{}
	for _, s := range got {
		if seen[s] {
			t.Errorf("%s handed out twice", s)
		}
		seen[s] = true
	}
}

func TestAddresses(t *testing.T) {
	ctx := context.Background()
	p := newIPAM(t, nil, noHost)
	_, err := p.RequestSubnet(ctx, "n", Subnet{
		Prefix: netip.MustParsePrefix("10.90.0.0/29"), Gateway: netip.MustParseAddr("10.90.0.2"),
		Aux: map[string]netip.Addr{"router": netip.MustParseAddr("10.90.0.3")},
	})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(endpoint, want string) (string, error) {
		var w netip.Addr
		if want != "" {
			w = netip.MustParseAddr(want)
		}
		a, err := p.RequestAddress(ctx, "n", endpoint, w)
		return a.String(), err
	}
	// .0 is the network, .2 the gateway, .3 reserved, .7 the broadcast
	if a, err := ask("e1", ""); a != "10.90.0.1" || err != nil {
		t.Errorf("first: %s %v", a, err)
	}
	if a, err := ask("e2", "10.90.0.5"); a != "10.90.0.5" || err != nil {
		t.Errorf("static: %s %v", a, err)
	}
	if a, _ := ask("e3", ""); a != "10.90.0.4" {
		t.Errorf("second: %s, want 10.90.0.4", a)
	}
	for want, class := range map[string]error{"10.90.0.5": ErrConflict, "10.90.0.2": ErrConflict, "10.90.0.3": ErrConflict, "10.90.0.7": ErrInvalid, "10.91.0.1": ErrInvalid} {
		if _, err := ask("x", want); !errors.Is(err, class) {
			t.Errorf("static %s: %v, want %v", want, err, class)
		}
	}
	if a, _ := ask("e4", ""); a != "10.90.0.6" {
		t.Errorf("third: %s, want 10.90.0.6", a)
	}
	if _, err := ask("e5", ""); !errors.Is(err, ErrExhausted) {
		t.Errorf("a full /29: %v", err)
	}
	p.ReleaseAddress(ctx, "e3" /* on no network */, "e3")
	if err := p.ReleaseAddress(ctx, "n", "e3"); err != nil {
		t.Fatal(err)
	}
	if a, _ := ask("e5", ""); a != "10.90.0.4" {
		t.Errorf("after release: %s, want 10.90.0.4", a)
	}
	// ip_range narrows where dynamic addresses come from
	p.RequestSubnet(ctx, "r", Subnet{Prefix: netip.MustParsePrefix("10.92.0.0/24"), Range: netip.MustParsePrefix("10.92.0.128/25")})
	if a, _ := p.RequestAddress(ctx, "r", "e", netip.Addr{}); a.String() != "10.92.0.128" {
		t.Errorf("from ip_range: %s, want 10.92.0.128", a)
	}
}

// TestHostPrefixes: in a network namespace of its own, a subnet never
// overlaps an address, a route or a nameserver of the host.
func TestHostPrefixes(t *testing.T) {
	fixture.RequireRoot(t, "a network namespace")
	runtime.LockOSThread()
	orig, err := vnetns.Get()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := vnetns.New() // switches this thread into it
	vnetns.Set(orig)
	runtime.UnlockOSThread()
	orig.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close() // the last reference: the namespace and its links go
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// a bridge, not a dummy link: this kernel has no dummy driver
	link := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "berth-test0"}}
	if err := h.LinkAdd(link); err != nil {
		t.Fatal(err)
	}
	h.LinkSetUp(link)
	addr, _ := netlink.ParseAddr("10.90.0.1/24")
	if err := h.AddrAdd(link, addr); err != nil {
		t.Fatal(err)
	}
	_, dst, _ := net.ParseCIDR("10.90.4.0/22")
	if err := h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: dst}); err != nil {
		t.Fatal(err)
	}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(resolv, []byte("# a comment\nnameserver 10.90.1.53\nnameserver ::1\n"), 0o644)
	p := newIPAM(t, []Pool{{netip.MustParsePrefix("10.90.0.0/16"), 24}}, func() ([]netip.Prefix, error) { return HostPrefixes(h, resolv) })
	var got []string
	for i := range 3 {
		s, err := p.RequestSubnet(context.Background(), fmt.Sprint(i), Subnet{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Prefix.String())
	}
	if fmt.Sprint(got) != "[10.90.2.0/24 10.90.3.0/24 10.90.8.0/24]" {
		t.Errorf("subnets %v: want to skip 10.90.0.0/24 (an address), 10.90.1.0/24 (a nameserver) and 10.90.4.0/22 (a route)", got)
	}
}

func TestParsePools(t *testing.T) {
	pools, err := ParsePools("10.89.0.0/16/24, 172.30.0.0/16/26")
	if err != nil || len(pools) != 2 || pools[1].Base.String() != "172.30.0.0/16" || pools[1].Size != 26 {
		t.Errorf("%+v %v", pools, err)
	}
	for _, bad := range []string{"", "10.89.0.0/16", "10.89.0.0/16/8", "10.89.0.0/16/31", "fd00::/48/64", "x/16/24", "10.89.0.0/16/24/"} {
		if _, err := ParsePools(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParsePools(f *testing.F) {
	for _, s := range []string{"10.89.0.0/16/24", "172.18.0.0/14/24,192.168.128.0/17/24", "/", "1.2.3.4/0/30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pools, err := ParsePools(s)
		if err != nil {
			return
		}
		for _, p := range pools {
			if p.Size < p.Base.Bits() || p.Size > 30 || p.Base != p.Base.Masked() {
				t.Errorf("%q gave %+v", s, p)
			}
		}
	})
}
