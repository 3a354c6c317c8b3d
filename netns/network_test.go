package netns

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// TestNetworkStore: networks get a subnet and a bridge, refuse clashes,
// and leave nothing when removed, all in a namespace of the test's own.
func TestNetworkStore(t *testing.T) {
	ctx := context.Background()
	host := newTestNS(t)
	conn, err := nftables.New(nftables.WithNetNSFd(int(host.ns)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := OpenStore(dir, host.handle, conn, []Pool{{netip.MustParsePrefix("10.90.0.0/16"), 24}})
	if err != nil {
		t.Fatal(err)
	}
	hasTable := func() bool {
		tables, _ := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
		return slices.ContainsFunc(tables, func(tb *nftables.Table) bool { return tb.Name == TableName(dir) })
	}
	a, err := s.Create(ctx, CreateOptions{Name: "front", Labels: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Subnet.Prefix.String() != "10.90.0.0/24" || a.Bridge != "br-"+a.ID[:12] || !slices.Contains(host.links(t), a.Bridge) {
		t.Errorf("front: %+v; links %v", a, host.links(t))
	}
	b, err := s.Create(ctx, CreateOptions{Name: "back", Options: map[string]string{BridgeNameOption: "br-back", MTUOption: "1400"},
		Subnet: Subnet{Prefix: netip.MustParsePrefix("10.91.0.0/24")}})
	if err != nil || b.Bridge != "br-back" || b.MTU != 1400 {
		t.Fatalf("back: %+v %v", b, err)
	}
	for _, bad := range []struct {
		o     CreateOptions
		class error
	}{
		{CreateOptions{Name: "front"}, ErrConflict},
		{CreateOptions{Name: "other", Subnet: Subnet{Prefix: netip.MustParsePrefix("10.91.0.0/16")}}, ErrConflict},
		{CreateOptions{Name: "other", Options: map[string]string{BridgeNameOption: "br-back"}}, ErrConflict},
		{CreateOptions{Name: "-bad"}, ErrInvalid},
		{CreateOptions{Name: "other", Driver: "overlay"}, ErrInvalid},
		{CreateOptions{Name: "other", Options: map[string]string{MTUOption: "x"}}, ErrInvalid},
	} {
		if _, err := s.Create(ctx, bad.o); !errors.Is(err, bad.class) {
			t.Errorf("%+v: %v, want %v", bad.o, err, bad.class)
		}
	}
	// a refused create took no subnet: the next network gets the second /24
	if c, _ := s.Create(ctx, CreateOptions{Name: "third"}); c.Subnet.Prefix.String() != "10.90.1.0/24" {
		t.Errorf("third: %s, want 10.90.1.0/24", c.Subnet.Prefix)
	}
	if !hasTable() {
		t.Error("no nftables table with networks")
	}
	if got, err := s.Get(a.ID[:6]); err != nil || got.Name != "front" {
		t.Errorf("by ID prefix: %+v %v", got, err)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown network: %v", err)
	}
	inUse := func(network string) ([]string, error) { return []string{"web-1"}, nil }
	if _, err := s.Remove(ctx, "front", inUse); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "has active endpoints (web-1)") {
		t.Errorf("removing a network in use: %v", err)
	}
	for _, name := range []string{"front", "back", "third"} {
		if _, err := s.Remove(ctx, name, nil); err != nil {
			t.Fatal(err)
		}
	}
	if list, _ := s.List(); len(list) != 0 || len(host.links(t)) != 1 || hasTable() {
		t.Errorf("left after removal: %v, links %v, table %v", list, host.links(t), hasTable())
	}
}

// TestEnsure: a network whose bridge and table a reboot took is made
// again from its record (name, gateway address, MTU, table); one that is
// there is left alone; a table gone on its own is rebuilt.
func TestEnsure(t *testing.T) {
	ctx := context.Background()
	host := newTestNS(t)
	conn, err := nftables.New(nftables.WithNetNSFd(int(host.ns)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := OpenStore(dir, host.handle, conn, []Pool{{netip.MustParsePrefix("10.92.0.0/16"), 24}})
	if err != nil {
		t.Fatal(err)
	}
	hasTable := func() bool {
		_, err := conn.ListTableOfFamily(TableName(dir), nftables.TableFamilyIPv4)
		return err == nil
	}
	n, err := s.Create(ctx, CreateOptions{Name: "back", Options: map[string]string{MTUOption: "1400"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Teardown(ctx) })
	if made, err := s.Ensure(ctx, n); made || err != nil {
		t.Errorf("a network that is there: made %v, %v", made, err)
	}
	// the reboot
	if err := DeleteBridge(host.handle, n.Bridge); err != nil {
		t.Fatal(err)
	}
	conn.DelTable(&nftables.Table{Name: TableName(dir), Family: nftables.TableFamilyIPv4})
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	if made, err := s.Ensure(ctx, n); !made || err != nil {
		t.Fatalf("after the reboot: made %v, %v", made, err)
	}
	link, err := host.handle.LinkByName(n.Bridge)
	if err != nil {
		t.Fatalf("bridge not made again: %v", err)
	}
	addrs, _ := host.handle.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != netip.PrefixFrom(n.Subnet.Gateway, n.Subnet.Prefix.Bits()).String() || link.Attrs().MTU != 1400 {
		t.Errorf("bridge made again with %v, MTU %d", addrs, link.Attrs().MTU)
	}
	if !hasTable() {
		t.Error("table not made again")
	}
	conn.DelTable(&nftables.Table{Name: TableName(dir), Family: nftables.TableFamilyIPv4})
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	// a table gone alone is CheckFirewall's to put back
	if made, err := s.Ensure(ctx, n); made || err != nil {
		t.Errorf("a table gone alone: made %v, %v", made, err)
	}
	if err := s.CheckFirewall(ctx); err != nil || !hasTable() {
		t.Errorf("a table gone alone: CheckFirewall %v, table %v", err, hasTable())
	}
}

// BenchmarkEnsure is what each container start pays per network for
// Ensure, and once for CheckFirewall, when the bridge and the table are
// there.
func BenchmarkEnsure(b *testing.B) {
	ctx := context.Background()
	host := newTestNS(b)
	conn, err := nftables.New(nftables.WithNetNSFd(int(host.ns)))
	if err != nil {
		b.Fatal(err)
	}
	s, err := OpenStore(b.TempDir(), host.handle, conn, []Pool{{netip.MustParsePrefix("10.93.0.0/16"), 24}})
	if err != nil {
		b.Fatal(err)
	}
	n, err := s.Create(ctx, CreateOptions{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Teardown(ctx) })
	for b.Loop() {
		if made, err := s.Ensure(ctx, n); made || err != nil {
			b.Fatal(made, err)
		}
		if err := s.CheckFirewall(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
