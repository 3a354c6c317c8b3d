package netns

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/fixture"
)

// testNS is a network namespace of the test's own, gone with its last
// reference when the test ends, every link in it included.
type testNS struct {
	ns     vnetns.NsHandle
	handle *netlink.Handle
}

func newTestNS(t testing.TB) testNS {
	t.Helper()
	n := fixture.NewNetNS(t)
	return testNS{n.NS, n.Handle}
}

// path names the namespace as a file, as /proc/PID/ns/net names a
// container's.
func (n testNS) path() string { return fixture.NetNS{NS: n.ns}.Path() }

// do runs fn on a thread inside the namespace.
func (n testNS) do(t testing.TB, fn func()) { t.Helper(); fixture.NetNS{NS: n.ns}.Do(t, fn) }

func (n testNS) links(t *testing.T) []string {
	t.Helper()
	links, err := n.handle.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	return names
}

// TestBridge: two containers' namespaces on one bridge get their
// interfaces, addresses, MACs and default route, and reach each other;
// failures leave nothing behind.
func TestBridge(t *testing.T) {
	host, a, b := newTestNS(t), newTestNS(t), newTestNS(t)
	subnet := Subnet{Prefix: netip.MustParsePrefix("10.90.0.0/24"), Gateway: netip.MustParseAddr("10.90.0.1")}
	if err := CreateBridge(host.handle, "br-test", subnet, 1400); err != nil {
		t.Fatal(err)
	}
	if err := CreateBridge(host.handle, "br-test", subnet, 1400); !errors.Is(err, ErrConflict) {
		t.Errorf("a second bridge of the same name: %v", err)
	}
	hostIfs := map[string]string{}
	for name, ns := range map[string]testNS{"10.90.0.2": a, "10.90.0.3": b} {
		ep := Endpoint{Bridge: "br-test", NetNS: ns.path(), IfName: "eth0", Address: netip.PrefixFrom(netip.MustParseAddr(name), 24), Gateway: subnet.Gateway, MTU: 1400}
		hostIf, err := Attach(host.handle, ep)
		if err != nil {
			t.Fatal(err)
		}
		hostIfs[name] = hostIf
	}
	eth0, err := a.handle.LinkByName("eth0")
	if err != nil {
		t.Fatalf("no eth0 in the container's namespace: %v (links %v)", err, a.links(t))
	}
	if mac := eth0.Attrs().HardwareAddr.String(); mac != "02:42:0a:5a:00:02" || eth0.Attrs().MTU != 1400 {
		t.Errorf("eth0: MAC %s MTU %d, want 02:42:0a:5a:00:02 and 1400", mac, eth0.Attrs().MTU)
	}
	routes, _ := a.handle.RouteList(eth0, netlink.FAMILY_V4)
	if !strings.Contains(fmt.Sprint(routes), "Gw: 10.90.0.1") {
		t.Errorf("no default route via the gateway: %v", routes)
	}
	// b reaches a's address across the bridge
	var ln net.Listener
	a.do(t, func() { ln, err = net.Listen("tcp", "10.90.0.2:0") })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hello from a"))
			c.Close()
		}
	}()
	var got []byte
	b.do(t, func() {
		var c net.Conn
		if c, err = net.Dial("tcp", ln.Addr().String()); err == nil {
			got, err = io.ReadAll(c)
			c.Close()
		}
	})
	if err != nil || string(got) != "hello from a" {
		t.Errorf("b to a across the bridge: %q, %v", got, err)
	}
	// a failed attach (a name the kernel refuses) leaves no veth anywhere
	before := len(host.links(t))
	c := newTestNS(t)
	if _, err := Attach(host.handle, Endpoint{Bridge: "br-test", NetNS: c.path(), IfName: "this-name-is-too-long", Address: netip.MustParsePrefix("10.90.0.4/24")}); err == nil {
		t.Error("an interface name of 21 characters was accepted")
	}
	if after := len(host.links(t)); after != before || len(c.links(t)) != 1 {
		t.Errorf("a failed attach left links: host %v, container %v", host.links(t), c.links(t))
	}
	if _, err := Attach(host.handle, Endpoint{Bridge: "br-missing", NetNS: c.path(), IfName: "eth0"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("attach to a missing bridge: %v", err)
	}
	// detaching removes both ends; a second detach and delete are no-ops
	if err := Detach(host.handle, hostIfs["10.90.0.2"]); err != nil {
		t.Fatal(err)
	}
	if _, err := a.handle.LinkByName("eth0"); err == nil {
		t.Error("eth0 is still in the container after detach")
	}
	if err := Detach(host.handle, hostIfs["10.90.0.2"]); err != nil {
		t.Errorf("second detach: %v", err)
	}
	if err := Detach(host.handle, hostIfs["10.90.0.3"]); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := DeleteBridge(host.handle, "br-test"); err != nil {
			t.Fatal(err)
		}
	}
	if links := host.links(t); len(links) != 1 {
		t.Errorf("links left in the host namespace: %v", links) // only lo
	}
}

// TestNamespace: a namespace made ahead of its container keeps what is put
// in it until it is removed, and removal leaves no mount or file.
func TestNamespace(t *testing.T) {
	fixture.RequireRoot(t, "network namespaces and mounts")
	path := filepath.Join(t.TempDir(), "netns")
	ns, err := CreateNamespace(path)
	if err != nil {
		t.Fatal(err)
	}
	defer RemoveNamespace(path)
	h, err := netlink.NewHandleAt(ns)
	ns.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	subnet := Subnet{Prefix: netip.MustParsePrefix("10.90.0.0/24"), Gateway: netip.MustParseAddr("10.90.0.1")}
	if err := CreateBridge(h, "br-kept", subnet, 0); err != nil {
		t.Fatal(err)
	}
	// held by nothing but the mount, the namespace still has the bridge
	again, err := vnetns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := netlink.NewHandleAt(again)
	again.Close()
	if _, err := h2.LinkByName("br-kept"); err != nil {
		t.Errorf("the bridge is gone from the namespace at %s: %v", path, err)
	}
	h2.Close()
	if _, err := CreateNamespace(path); err == nil {
		t.Error("a second namespace at the same path was made")
	}
	if err := RemoveNamespace(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", path, err)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), path) {
		t.Errorf("%s is still mounted", path)
	}
	if err := RemoveNamespace(path); err != nil {
		t.Errorf("removing twice: %v", err)
	}
}

// TestRelease: a released veth is off its bridge at once, so that it can
// answer for no address, and goes with its container's namespace without
// being deleted.
func TestRelease(t *testing.T) {
	host := newTestNS(t)
	subnet := Subnet{Prefix: netip.MustParsePrefix("10.91.0.0/24"), Gateway: netip.MustParseAddr("10.91.0.1")}
	if err := CreateBridge(host.handle, "br-rel", subnet, 0); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "netns")
	ns, err := CreateNamespace(path)
	if err != nil {
		t.Fatal(err)
	}
	ns.Close()
	defer RemoveNamespace(path)
	hostIf, err := Attach(host.handle, Endpoint{Bridge: "br-rel", NetNS: path, IfName: "eth0",
		Address: netip.MustParsePrefix("10.91.0.2/24"), Gateway: subnet.Gateway})
	if err != nil {
		t.Fatal(err)
	}
	updates, done := make(chan netlink.LinkUpdate, 16), make(chan struct{})
	defer close(done)
	if err := netlink.LinkSubscribeAt(host.ns, updates, done); err != nil {
		t.Fatal(err)
	}
	if err := Release(host.handle, hostIf); err != nil {
		t.Fatal(err)
	}
	if link, err := host.handle.LinkByName(hostIf); err != nil || link.Attrs().MasterIndex != 0 {
		t.Errorf("after release %s is still on its bridge (or gone): %v", hostIf, err)
	}
	if err := RemoveNamespace(path); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for gone := false; !gone; {
		select {
		case u := <-updates:
			// the link itself (AF_UNSPEC), not its bridge port (AF_BRIDGE)
			gone = u.Header.Type == unix.RTM_DELLINK && u.Attrs().Name == hostIf && u.IfInfomsg.Family == unix.AF_UNSPEC
		case <-timeout:
			t.Fatalf("%s still exists 10 s after its namespace was removed: %v", hostIf, host.links(t))
		}
	}
	if err := Release(host.handle, hostIf); err != nil {
		t.Errorf("releasing a pair already gone: %v", err)
	}
}
