package integration

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/nftables"
	dnslib "github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/netns"
)

// keepForwarding gives the machine back its IPv4 forwarding setting when
// the test ends: berth turns it on for networks, as Docker does.
func keepForwarding(t testing.TB) {
	if before, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil {
		t.Cleanup(func() { os.WriteFile("/proc/sys/net/ipv4/ip_forward", before, 0o644) })
	}
}

// TestNetworkCommands: network create makes a bridge with the gateway's
// address, ls and inspect show it, clashes are refused with nothing made,
// and rm removes the bridge.
func TestNetworkCommands(t *testing.T) {
	requireRoot(t)
	keepForwarding(t)
	root, dir := t.TempDir(), t.TempDir()
	env := []string{"BERTH_ADDRESS_POOLS=10.201.0.0/16/24"}
	run := func(args ...string) result {
		t.Helper()
		return berthEnv(t, dir, env, "", append([]string{"--root", root}, args...)...)
	}
	t.Cleanup(func() {
		for _, id := range strings.Fields(run("network", "ls", "-q").stdout) {
			run("network", "rm", id)
		}
	})
	web := strings.TrimSpace(run("network", "create", "--subnet", "10.202.0.0/24", "--gateway", "10.202.0.254", "--label", "tier=front", "web").stdout)
	auto := strings.TrimSpace(run("network", "create", "-o", "com.docker.network.bridge.name=br-berth-it", "auto").stdout)
	if len(web) != 64 || len(auto) != 64 {
		t.Fatalf("create printed %q and %q, want IDs", web, auto)
	}
	for bridge, want := range map[string]string{"br-" + web[:12]: "10.202.0.254/24", "br-berth-it": "10.201.0.1/24"} {
		link, err := netlink.LinkByName(bridge)
		if err != nil {
			t.Errorf("bridge %s: %v", bridge, err)
			continue
		}
		addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
		if len(addrs) != 1 || addrs[0].IPNet.String() != want {
			t.Errorf("bridge %s has %v, want %s", bridge, addrs, want)
		}
	}
	if ls := run("network", "ls").stdout; !strings.Contains(ls, web[:12]+"   web       bridge    local") {
		t.Errorf("ls:\n%s", ls)
	}
	got := run("network", "inspect", "-f", "{{.Name}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels.tier}}", "web", auto[:8]).stdout
	if got != "web 10.202.0.0/24 10.202.0.254 front\nauto 10.201.0.0/24 10.201.0.1 <no value>\n" {
		t.Errorf("inspect: %q", got)
	}
	for _, bad := range [][]string{
		{"network", "create", "web"},
		{"network", "create", "--subnet", "10.202.0.128/25", "clash"},
		{"network", "create", "--subnet", "10.203.0.0/24", "--gateway", "10.9.9.9", "clash"},
		{"network", "create", "-d", "overlay", "clash"},
	} {
		if r := run(bad...); r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, %q", bad, r.code, r.stderr)
		}
	}
	if ls := run("network", "ls", "-q").stdout; strings.Count(ls, "\n") != 2 {
		t.Errorf("a refused create left a network:\n%s", ls)
	}
	if r := run("network", "rm", "web", "auto"); r.code != 0 || r.stdout != "web\nauto\n" {
		t.Errorf("rm: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	for _, bridge := range []string{"br-" + web[:12], "br-berth-it"} {
		if _, err := netlink.LinkByName(bridge); err == nil {
			t.Errorf("bridge %s is left after rm", bridge)
		}
	}
	if r := run("network", "rm", "web"); r.code == 0 || !strings.Contains(r.stderr, "network web not found") {
		t.Errorf("rm of a removed network: exit %d, %q", r.code, r.stderr)
	}
	if r := run("network", "rm", "-f", "web"); r.code != 0 {
		t.Errorf("rm -f of a removed network: exit %d, %q", r.code, r.stderr)
	}
}

// TestContainerNetwork: containers on a network get eth0 with an address
// from its subnet and reach each other; the address is given back when a
// container stops; an unknown network is refused with nothing made.
func TestContainerNetwork(t *testing.T) {
	root, run := busyboxRoot(t)
	keepForwarding(t)
	t.Cleanup(func() {
		for _, id := range strings.Fields(run("network", "ls", "-q").stdout) {
			run("network", "rm", id)
		}
	})
	// veths of other berth roots on this machine are not this test's
	others := map[string]bool{}
	for _, v := range hostVeths() {
		others[v] = true
	}
	hasTable := func() bool {
		conn, err := nftables.New()
		if err != nil {
			t.Fatal(err)
		}
		tables, _ := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
		return slices.ContainsFunc(tables, func(tb *nftables.Table) bool { return tb.Name == netns.TableName(filepath.Join(root, "networks")) })
	}
	r := run("network", "create", "--subnet", "10.204.0.0/24", "lan")
	if r.code != 0 {
		t.Fatalf("network create: %s", r.stderr)
	}
	lanID := strings.TrimSpace(r.stdout)
	if r := run("container", "run", "-d", "--name", "server", "--network", "lan", "bb:1", "sh", "-c", "while true; do busybox nc -l -p 7000 -e echo hello over lan; done"); r.code != 0 {
		t.Fatalf("server: %s", r.stderr)
	}
	ip := strings.TrimSpace(run("container", "inspect", "-f", "{{.NetworkSettings.Networks.lan.IPAddress}}", "server").stdout)
	if ip != "10.204.0.2" {
		t.Errorf("server's address %q, want 10.204.0.2 (the first after the gateway)", ip)
	}
	r = run("container", "run", "--rm", "--network", "lan", "bb:1", "sh", "-c", "cat /proc/net/dev | grep -o eth0; busybox ip route | grep default; busybox nc 10.204.0.2 7000 </dev/null")
	if r.code != 0 || !strings.Contains(r.stdout, "eth0\n") || !strings.Contains(r.stdout, "default via 10.204.0.1") || !strings.Contains(r.stdout, "hello over lan") {
		t.Errorf("client: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if hosts := run("container", "exec", "server", "cat", "/etc/hosts").stdout; !strings.HasSuffix(hosts, "\n10.204.0.2\t"+run("container", "inspect", "-f", "{{.Config.Hostname}}", "server").stdout) {
		t.Errorf("/etc/hosts does not name the container by its address:\n%s", hosts)
	}
	// --add-host lines, host-gateway being the network's gateway
	if hosts := run("container", "run", "--rm", "--network", "lan", "--add-host", "db:10.1.2.3", "--add-host", "gw=host-gateway", "bb:1", "cat", "/etc/hosts").stdout; !strings.Contains(hosts, "\n10.1.2.3\tdb\n10.204.0.1\tgw\n") {
		t.Errorf("--add-host:\n%s", hosts)
	}
	if got := run("container", "run", "--rm", "--network", "lan", "--dns", "10.204.0.53", "--dns-search", "corp.example", "--dns-option", "ndots:2", "bb:1", "cat", "/etc/resolv.conf").stdout; got != "nameserver 127.0.0.11\nsearch corp.example\noptions ndots:2\n" {
		t.Errorf("--dns, --dns-search, --dns-option: %q", got)
	}
	if r := run("container", "run", "--rm", "--dns", "not-an-ip", "bb:1", "true"); r.code != 125 {
		t.Errorf("a bad --dns: exit %d, %q", r.code, r.stderr)
	}
	if r := run("container", "run", "--rm", "--add-host", "db", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "bad format for add-host") {
		t.Errorf("a bad --add-host: exit %d, %q", r.code, r.stderr)
	}
	// a static address: given, refused when taken (nothing left of the
	// refused container) or outside the subnet
	run("container", "run", "-d", "--name", "fixed", "--network", "lan", "--ip", "10.204.0.50", "bb:1", "sleep", "30")
	if got := run("container", "inspect", "-f", "{{.NetworkSettings.Networks.lan.IPAddress}}", "fixed").stdout; got != "10.204.0.50\n" {
		t.Errorf("--ip: %q", got)
	}
	if r := run("container", "run", "--rm", "--network", "lan", "--ip", "10.204.0.50", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "10.204.0.50 is already in use") {
		t.Errorf("a taken --ip: exit %d, %q", r.code, r.stderr)
	}
	if r := run("container", "run", "--rm", "--network", "lan", "--ip", "10.9.9.9", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "does not belong to network lan") {
		t.Errorf("an --ip outside the subnet: exit %d, %q", r.code, r.stderr)
	}
	run("container", "rm", "-f", "fixed")
	if ps := run("container", "ps", "-a", "--format", "{{.Names}}").stdout; ps != "server\n" {
		t.Errorf("containers left: %q", ps)
	}
	// a container on another network cannot reach the server, though the
	// host forwards between bridges: berth's table drops it
	run("network", "create", "--subnet", "10.205.0.0/24", "elsewhere")
	if !hasTable() {
		t.Error("no nftables table for the root's networks")
	}
	if r := run("container", "run", "--rm", "--network", "elsewhere", "bb:1", "busybox", "nc", "-w", "1", "10.204.0.2", "7000"); r.code == 0 || strings.Contains(r.stdout, "hello") {
		t.Errorf("a container on another network reached the server: exit %d, %q", r.code, r.stdout)
	}
	// connected to that network too, the running server gets eth1 there
	// and the client reaches it; disconnected, eth1 goes
	if r := run("network", "connect", "elsewhere", "server"); r.code != 0 {
		t.Fatalf("connect: %s", r.stderr)
	}
	other := strings.TrimSpace(run("container", "inspect", "-f", "{{.NetworkSettings.Networks.elsewhere.IPAddress}}", "server").stdout)
	if r := run("container", "run", "--rm", "--network", "elsewhere", "bb:1", "busybox", "nc", "-w", "2", other, "7000"); !strings.Contains(r.stdout, "hello over lan") {
		t.Errorf("after connect, to %s: exit %d, %q %q", other, r.code, r.stdout, r.stderr)
	}
	if r := run("network", "connect", "elsewhere", "server"); r.code == 0 || !strings.Contains(r.stderr, "already exists in network elsewhere") {
		t.Errorf("a second connect: exit %d, %q", r.code, r.stderr)
	}
	if r := run("network", "disconnect", "elsewhere", "server"); r.code != 0 {
		t.Errorf("disconnect: %s", r.stderr)
	}
	if got := run("container", "exec", "server", "cat", "/proc/net/dev").stdout; strings.Contains(got, "eth1") {
		t.Errorf("eth1 is still there after disconnect:\n%s", got)
	}
	if r := run("network", "disconnect", "elsewhere", "server"); r.code == 0 || !strings.Contains(r.stderr, "is not connected to network elsewhere") {
		t.Errorf("a second disconnect: exit %d, %q", r.code, r.stderr)
	}
	run("network", "rm", "elsewhere")
	if r := run("network", "rm", "lan"); r.code == 0 || !strings.Contains(r.stderr, "has active endpoints (server)") {
		t.Errorf("rm of a network in use: exit %d, %q", r.code, r.stderr)
	}
	run("container", "stop", "-t", "1", "server")
	if got := run("container", "inspect", "-f", "{{.NetworkSettings.Networks.lan.IPAddress}}", "server").stdout; got != "\n" {
		t.Errorf("a stopped container still has address %q", got)
	}
	// its address is free again: the next container gets it
	// (named by an ID prefix this time)
	if got := run("container", "run", "--rm", "--network", lanID[:6], "bb:1", "sh", "-c", "busybox ip -4 -o addr show eth0").stdout; !strings.Contains(got, "10.204.0.2/24") {
		t.Errorf("after stop, a new container has %q, want 10.204.0.2/24", got)
	}
	// a stopped container connected to a second network joins both at its
	// next start, eth0 and eth1
	run("network", "create", "--subnet", "10.206.0.0/24", "second")
	run("network", "connect", "second", "server")
	run("container", "start", "server")
	if got := run("container", "inspect", "-f", "{{.NetworkSettings.Networks.lan.IPAddress}} {{.NetworkSettings.Networks.second.IPAddress}}", "server").stdout; got != "10.204.0.2 10.206.0.2\n" {
		t.Errorf("after connect while stopped and start: %q", got)
	}
	if got := run("container", "exec", "server", "cat", "/proc/net/dev").stdout; !strings.Contains(got, "eth1:") {
		t.Errorf("no eth1 after start:\n%s", got)
	}
	run("container", "stop", "-t", "1", "server")
	if r := run("container", "run", "--rm", "--network", "host", "bb:1", "cat", "/proc/net/dev"); !strings.Contains(r.stdout, "br-") {
		t.Errorf("--network host does not see the host's bridges: %q %q", r.stdout, r.stderr)
	}
	if r := run("container", "run", "--rm", "--network", "nope", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "network nope not found") {
		t.Errorf("unknown network: exit %d, %q", r.code, r.stderr)
	}
	// prune takes networks no container refers to, stopped ones included
	run("network", "create", "spare")
	if r := run("network", "prune", "-f"); r.stdout != "Deleted Networks:\nspare\n\n" {
		t.Errorf("prune: %q %q", r.stdout, r.stderr)
	}
	run("container", "rm", "server")
	run("network", "rm", "second")
	if r := run("network", "rm", "lan"); r.code != 0 {
		t.Errorf("network rm: %s", r.stderr)
	}
	// a stopped container's veths go with its namespace, which the kernel
	// tears down in the background
	var veths []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		veths = slices.DeleteFunc(hostVeths(), func(v string) bool { return others[v] })
		if len(veths) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(veths) > 0 {
		t.Errorf("veths left behind: %v", veths)
	}
	if hasTable() {
		t.Error("the nftables table is left after the last network went")
	}
	if entries, _ := os.ReadDir(filepath.Join(monitor.RunDir(root), "netns")); len(entries) > 0 {
		t.Errorf("network namespaces left: %v", entries)
	}
	noLeftovers(t, root)
}

// TestPublishedPorts: a published port reaches the container from the
// host's 127.0.0.1 and from its bridge address, over TCP and UDP, and
// from the container itself (hairpin), with no proxy process; `port`, `ps`
// and inspect show the bindings; a port already taken, by another process
// or another container, is refused with nothing made; a stopped
// container's port is free again and no longer forwarded.
func TestPublishedPorts(t *testing.T) {
	_, run := busyboxRoot(t)
	keepForwarding(t)
	t.Cleanup(func() {
		run("container", "rm", "-f", "web")
		for _, id := range strings.Fields(run("network", "ls", "-q").stdout) {
			run("network", "rm", id)
		}
	})
	if r := run("network", "create", "--subnet", "10.207.0.0/24", "pub"); r.code != 0 {
		t.Fatalf("network create: %s", r.stderr)
	}
	if r := run("container", "run", "-d", "--name", "web", "--network", "pub", "-p", "127.0.0.1::7000", "-p", "7001-7002/udp", "bb:1",
		"sh", "-c", "while true; do busybox nc -l -p 7000 -e echo hello published; done"); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(run("container", "port", "web").stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "7000/tcp -> 127.0.0.1:") || !strings.HasPrefix(lines[1], "7001/udp -> 0.0.0.0:") {
		t.Fatalf("port: %q", lines)
	}
	tcpPort := strings.TrimPrefix(lines[0], "7000/tcp -> 127.0.0.1:")
	udpPort := strings.TrimPrefix(lines[1], "7001/udp -> 0.0.0.0:")
	if got := strings.TrimSpace(run("container", "port", "web", "7000").stdout); got != "127.0.0.1:"+tcpPort {
		t.Errorf("port web 7000: %q", got)
	}
	if r := run("container", "port", "web", "9999/tcp"); r.code == 0 || !strings.Contains(r.stderr, "no public port '9999/tcp' published") {
		t.Errorf("port of an unpublished port: exit %d, %q", r.code, r.stderr)
	}
	if ps := run("container", "ps", "--format", "{{.Ports}}").stdout; !strings.Contains(ps, "127.0.0.1:"+tcpPort+"->7000/tcp") {
		t.Errorf("ps PORTS: %q", ps)
	}
	if got := run("container", "inspect", "-f", `{{(index .NetworkSettings.Ports "7000/tcp" 0).HostPort}}`, "web").stdout; got != tcpPort+"\n" {
		t.Errorf("inspect NetworkSettings.Ports: %q", got)
	}
	if got := greeting("127.0.0.1:" + tcpPort); got != "hello published\n" {
		t.Errorf("from the host's 127.0.0.1: %q", got)
	}
	// bound to 127.0.0.1 only: the bridge address does not take it
	if c, err := net.DialTimeout("tcp", "10.207.0.1:"+tcpPort, time.Second); err == nil {
		c.Close()
		t.Error("a port published on 127.0.0.1 was reached on the bridge's address")
	}
	// UDP, to a port published on every address: busybox has no UDP
	// server, so the test listens inside the container's namespace
	pid, _ := strconv.Atoi(strings.TrimSpace(run("container", "inspect", "-f", "{{.State.Pid}}", "web").stdout))
	pc := listenUDPIn(t, pid, ":7001")
	if c, err := net.Dial("udp", "10.207.0.1:"+udpPort); err != nil {
		t.Error(err)
	} else {
		c.Write([]byte("ping"))
		c.Close()
		pc.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 16)
		if n, _, err := pc.ReadFrom(buf); err != nil || string(buf[:n]) != "ping" {
			t.Errorf("UDP to the published port: %q, %v", buf[:n], err)
		}
	}
	pc.Close()
	// a second container, on every address: hairpin through the gateway
	if r := run("container", "run", "-d", "--name", "web2", "--network", "pub", "-p", "7000", "bb:1",
		"sh", "-c", "while true; do busybox nc -l -p 7000 -e echo hello again; done"); r.code != 0 {
		t.Fatalf("run web2: %s", r.stderr)
	}
	t.Cleanup(func() { run("container", "rm", "-f", "web2") })
	port2 := strings.TrimPrefix(strings.TrimSpace(run("container", "port", "web2", "7000").stdout), "0.0.0.0:")
	var hair string
	for range 50 {
		if hair = run("container", "exec", "web2", "busybox", "nc", "-w", "2", "10.207.0.1", port2).stdout; hair != "" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if hair != "hello again\n" {
		t.Errorf("hairpin, web2 to its own published port: %q", hair)
	}
	if got := greeting("10.207.0.1:" + port2); got != "hello again\n" {
		t.Errorf("from the host to the bridge address: %q", got)
	}
	// taken ports: by a container, and by another process
	before := run("container", "ps", "-a", "-q").stdout
	if r := run("container", "run", "--rm", "--network", "pub", "-p", port2+":80", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "0.0.0.0:"+port2+" failed: port is already allocated") {
		t.Errorf("a port another container publishes: exit %d, %q", r.code, r.stderr)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	taken := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	if r := run("container", "create", "--network", "pub", "-p", "127.0.0.1:"+taken+":80", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "port is already allocated") {
		t.Errorf("a port another process listens on: exit %d, %q", r.code, r.stderr)
	}
	ln.Close()
	if after := run("container", "ps", "-a", "-q").stdout; after != before {
		t.Errorf("a refused run left containers: %q, was %q", after, before)
	}
	// stopped, web2's port is free and no longer forwarded
	run("container", "stop", "-t", "1", "web2")
	if c, err := net.DialTimeout("tcp", "10.207.0.1:"+port2, 500*time.Millisecond); err == nil {
		c.Close()
		t.Error("a stopped container's port still answers")
	}
	if l, err := net.Listen("tcp", ":"+port2); err != nil {
		t.Errorf("a stopped container's port is still held: %v", err)
	} else {
		l.Close()
	}
	// -P publishes the exposed ports
	if r := run("container", "run", "-d", "--name", "all", "--network", "pub", "-P", "--expose", "7100", "--expose", "7200/udp", "bb:1", "sleep", "30"); r.code != 0 {
		t.Fatalf("run -P: %s", r.stderr)
	}
	t.Cleanup(func() { run("container", "rm", "-f", "all") })
	if got := run("container", "port", "all").stdout; !strings.Contains(got, "7100/tcp -> 0.0.0.0:") || !strings.Contains(got, "7200/udp -> 0.0.0.0:") {
		t.Errorf("-P --expose: %q", got)
	}
	if r := run("container", "run", "--rm", "-p", "80/sctp", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "invalid published port") {
		t.Errorf("a bad -p: exit %d, %q", r.code, r.stderr)
	}
}

// listenUDPIn opens a UDP socket on addr in the network namespace of the
// process pid.
func listenUDPIn(t *testing.T, pid int, addr string) net.PacketConn {
	t.Helper()
	target, err := vnetns.GetFromPid(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	orig, err := vnetns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	if err := vnetns.Set(target); err != nil {
		t.Fatal(err)
	}
	pc, lerr := net.ListenPacket("udp", addr)
	if err := vnetns.Set(orig); err != nil {
		panic(err) // this thread must not go back to the scheduler in the container's namespace
	}
	if lerr != nil {
		t.Fatal(lerr)
	}
	return pc
}

// fakeUpstream answers example.test with 192.0.2.7 and everything else
// with NXDOMAIN, on port 53 of a loopback address of the host's, and
// counts the questions. It stands for the host's nameserver: the tests
// send DNS nowhere else.
type fakeUpstream struct {
	addr  string
	asked atomic.Int32
}

func startFakeUpstream(t *testing.T) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{}
	var pc net.PacketConn
	var err error
	for i := range 50 { // a loopback address of our own, port 53 free
		u.addr = fmt.Sprintf("127.0.%d.%d", 53+i, 2+os.Getpid()%200)
		if pc, err = net.ListenPacket("udp", u.addr+":53"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("no loopback address with port 53 free: %v", err)
	}
	h := dnslib.HandlerFunc(func(w dnslib.ResponseWriter, q *dnslib.Msg) {
		u.asked.Add(1)
		reply := new(dnslib.Msg)
		reply.SetReply(q)
		if q.Question[0].Name == "example.test." && q.Question[0].Qtype == dnslib.TypeA {
			reply.Answer = append(reply.Answer, &dnslib.A{Hdr: dnslib.RR_Header{Name: "example.test.", Rrtype: dnslib.TypeA, Class: dnslib.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 7)})
		} else if q.Question[0].Name != "example.test." {
			reply.Rcode = dnslib.RcodeNameError
		}
		w.WriteMsg(reply)
	})
	srv := &dnslib.Server{PacketConn: pc, Handler: h}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return u
}

// TestContainerDNS: containers on a network find each other at
// 127.0.0.11 by name, alias, name.network and address (PTR), only on
// networks they share; a stopped container's name is gone at once; other
// names go to the upstream (here --dns, a fake on the host's loopback,
// reached from the host's namespace), except from an internal network; a
// DNS server inside the container can still have port 53.
func TestContainerDNS(t *testing.T) {
	root, run := busyboxRoot(t)
	keepForwarding(t)
	up := startFakeUpstream(t)
	t.Cleanup(func() {
		for _, c := range []string{"server", "other"} {
			run("container", "rm", "-f", c)
		}
		for _, id := range strings.Fields(run("network", "ls", "-q").stdout) {
			run("network", "rm", id)
		}
	})
	run("network", "create", "--subnet", "10.208.0.0/24", "front")
	run("network", "create", "--subnet", "10.209.0.0/24", "back")
	run("network", "create", "--subnet", "10.210.0.0/24", "--internal", "vault")
	if r := run("container", "run", "-d", "--name", "server", "--network", "front", "--network-alias", "db", "bb:1", "sleep", "60"); r.code != 0 {
		t.Fatalf("server: %s", r.stderr)
	}
	lookup := func(network string, names ...string) string {
		t.Helper()
		script := "cat /etc/resolv.conf"
		for _, n := range names {
			typ := "-type=a "
			if _, err := netip.ParseAddr(n); err == nil {
				typ = "" // an address: PTR
			}
			script += "; echo == " + n + "; busybox nslookup " + typ + n + " 2>&1"
		}
		r := run("container", "run", "--rm", "--network", network, "--dns", up.addr, "bb:1", "sh", "-c", script)
		return r.stdout
	}
	out := lookup("front", "server", "db", "SERVER.front", "example.test", "10.208.0.2")
	if !strings.HasPrefix(out, "nameserver 127.0.0.11\n") || !strings.Contains(out, "options ndots:0") {
		t.Errorf("resolv.conf:\n%s", out)
	}
	answers := map[string]string{}
	for _, part := range strings.Split(out, "== ")[1:] {
		name, rest, _ := strings.Cut(part, "\n")
		answers[name] = rest
	}
	for name, want := range map[string]string{"server": "10.208.0.2", "db": "10.208.0.2", "SERVER.front": "10.208.0.2",
		"example.test": "192.0.2.7", "10.208.0.2": "server.front"} {
		if !strings.Contains(answers[name], want) {
			t.Errorf("lookup %s from front: want %s in\n%s", name, want, answers[name])
		}
	}
	// from another network the server's name is not berth's to give
	before := up.asked.Load()
	if out := lookup("back", "server"); strings.Contains(out, "10.208.0.2") || up.asked.Load() == before {
		t.Errorf("server from back (forwarded, not answered):\n%s", out)
	}
	// from an internal network nothing is forwarded
	before = up.asked.Load()
	if out := lookup("vault", "example.test"); strings.Contains(out, "192.0.2.7") || up.asked.Load() != before {
		t.Errorf("example.test from an internal network: upstream asked %d times\n%s", up.asked.Load()-before, out)
	}
	// connected with an alias, the server answers to it on that network
	if r := run("network", "connect", "--alias", "api", "back", "server"); r.code != 0 {
		t.Fatalf("connect --alias: %s", r.stderr)
	}
	backIP := strings.TrimSpace(run("container", "inspect", "-f", "{{.NetworkSettings.Networks.back.IPAddress}}", "server").stdout)
	if out := lookup("back", "api"); !strings.Contains(out, backIP) {
		t.Errorf("api from back, want %s:\n%s", backIP, out)
	}
	if got := run("container", "inspect", "-f", "{{.NetworkSettings.Networks.back.Aliases}}", "server").stdout; got != "[api]\n" {
		t.Errorf("inspect Aliases: %q", got)
	}
	// a DNS server in the container has port 53; the resolver still answers
	if r := run("container", "run", "--rm", "--network", "front", "bb:1", "sh", "-c",
		"busybox nc -l -p 53 & sleep 0.2; busybox netstat -ltn | grep -q ':53 ' && busybox nslookup -type=a server"); r.code != 0 || !strings.Contains(r.stdout, "10.208.0.2") {
		t.Errorf("with a server on port 53 in the container: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// stopped, its name is gone at once
	run("container", "stop", "-t", "0", "server")
	if out := lookup("front", "server"); strings.Contains(out, "10.208.0.2") {
		t.Errorf("a stopped container still resolves:\n%s", out)
	}
	if entries, _ := filepath.Glob(filepath.Join(monitor.RunDir(root), "dns", "*", "*")); len(entries) != 0 {
		t.Errorf("resolver entries left: %v", entries)
	}
}

// TestDefaultBridge: a container that names no network joins the default
// bridge network, made on first use (Docker's 172.17.0.0/16 unless the
// host has it): an address, a way out, published ports, and the host's
// nameservers rather than 127.0.0.11. It cannot be removed, pruned or
// shadowed; --network none is loopback only.
func TestDefaultBridge(t *testing.T) {
	_, run := busyboxRoot(t)
	r := run("container", "run", "--rm", "bb:1", "sh", "-c", "busybox ip -4 -o addr show eth0; busybox ip route; cat /etc/resolv.conf")
	if r.code != 0 || !strings.Contains(r.stdout, "eth0") || !strings.Contains(r.stdout, "default via") || strings.Contains(r.stdout, "127.0.0.11") {
		t.Fatalf("a container on the default network: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if ls := run("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout; !strings.Contains(ls, "bridge bridge\n") {
		t.Errorf("network ls: %q", ls)
	}
	if r := run("network", "rm", "bridge"); r.code == 0 || !strings.Contains(r.stderr, "bridge is a pre-defined network and cannot be removed") {
		t.Errorf("rm bridge: exit %d, %q", r.code, r.stderr)
	}
	for _, name := range []string{"bridge", "host", "none"} {
		if r := run("network", "create", name); r.code == 0 || !strings.Contains(r.stderr, "pre-defined network") {
			t.Errorf("create %s: exit %d, %q", name, r.code, r.stderr)
		}
	}
	run("network", "prune", "-f")
	if ls := run("network", "ls", "-q").stdout; len(strings.Fields(ls)) != 1 {
		t.Errorf("prune removed the default network: %q", ls)
	}
	if got := run("container", "run", "--rm", "--network", "none", "bb:1", "cat", "/proc/net/dev").stdout; strings.Contains(got, "eth0") {
		t.Errorf("--network none has eth0:\n%s", got)
	}
	for _, args := range [][]string{{"--ip", "172.17.0.99"}, {"--network-alias", "x"}, {"--network", "bridge", "--ip", "172.17.0.99"}} {
		if r := run(append(append([]string{"container", "run", "--rm"}, args...), "bb:1", "true")...); r.code != 125 {
			t.Errorf("%v on the default network: exit %d, %q", args, r.code, r.stderr)
		}
	}
	// published from the default network
	if r := run("container", "run", "-d", "--name", "web", "-p", "127.0.0.1::7000", "bb:1", "sh", "-c", "while true; do busybox nc -l -p 7000 -e echo hello default; done"); r.code != 0 {
		t.Fatalf("run -p: %s", r.stderr)
	}
	t.Cleanup(func() { run("container", "rm", "-f", "web") })
	addr := strings.TrimSpace(run("container", "port", "web", "7000").stdout)
	// inspect: the default network's address at the top, as in Docker,
	// and the paths of the container's files
	ins := strings.Fields(run("container", "inspect", "-f", "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Networks.bridge.IPAddress}} {{.GraphDriver.Name}} {{.LogPath}} {{.HostsPath}}", "web").stdout)
	if len(ins) != 5 || ins[0] != ins[1] || ins[0] == "" || ins[2] != "overlay2" {
		t.Errorf("inspect: %q", ins)
	} else {
		for _, f := range ins[3:] {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("inspect names %s: %v", f, err)
			}
		}
	}
	got := greeting(addr)
	if got != "hello default\n" {
		t.Errorf("published port on the default network, %s: %q", addr, got)
	}
}

// greeting is what a server that writes and closes sends to a connection
// at addr, retried while the container's server loop starts nc again.
func greeting(addr string) string {
	var got string
	for range 50 {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			b, _ := io.ReadAll(c)
			c.Close()
			if got = string(b); got != "" {
				return got
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return got
}

// TestNetworkModes: --network container:NAME shares a running container's
// network (its address, hosts and resolv.conf) and is refused when that
// container is stopped or with options of its own; --link aliases resolve
// for the linking container, through the resolver on a user-defined
// network and through /etc/hosts on the default one.
func TestNetworkModes(t *testing.T) {
	_, run := busyboxRoot(t)
	run("network", "create", "--subnet", "10.211.0.0/24", "modes")
	if r := run("container", "run", "-d", "--name", "owner", "--network", "modes", "bb:1", "sh", "-c", "while true; do busybox nc -l -p 7000 -e echo from owner; done"); r.code != 0 {
		t.Fatalf("owner: %s", r.stderr)
	}
	t.Cleanup(func() { run("container", "rm", "-f", "owner", "dflt") })
	r := run("container", "run", "--rm", "--network", "container:owner", "bb:1", "sh", "-c", "busybox ip -4 -o addr show eth0; busybox nc 127.0.0.1 7000; hostname; head -1 /etc/resolv.conf")
	owner := strings.TrimSpace(run("container", "inspect", "-f", "{{.Config.Hostname}}", "owner").stdout)
	if r.code != 0 || !strings.Contains(r.stdout, "10.211.0.2/24") || !strings.Contains(r.stdout, "from owner") || !strings.Contains(r.stdout, owner+"\nnameserver 127.0.0.11") {
		t.Errorf("container:owner: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run("container", "run", "--rm", "--network", "container:owner", "-p", "80", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "conflicting options") {
		t.Errorf("container mode with -p: exit %d, %q", r.code, r.stderr)
	}
	// links: an alias only the linking container knows
	if r := run("container", "run", "--rm", "--network", "modes", "--link", "owner:boss", "bb:1", "busybox", "nslookup", "-type=a", "boss"); !strings.Contains(r.stdout, "10.211.0.2") {
		t.Errorf("--link alias on a user network: %q %q", r.stdout, r.stderr)
	}
	if r := run("container", "run", "-d", "--name", "dflt", "bb:1", "sleep", "30"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	ip := strings.TrimSpace(run("container", "inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", "dflt").stdout)
	if hosts := run("container", "run", "--rm", "--link", "dflt:d", "bb:1", "cat", "/etc/hosts").stdout; !strings.Contains(hosts, ip+"\td\n"+ip+"\tdflt\n") {
		t.Errorf("--link on the default network, want %s d and dflt:\n%s", ip, hosts)
	}
	if got := run("container", "run", "--rm", "--network", "modes", "--mac-address", "92:d0:c6:0a:29:33", "bb:1", "cat", "/sys/class/net/eth0/address").stdout; got != "92:d0:c6:0a:29:33\n" {
		t.Errorf("--mac-address: %q", got)
	}
	if r := run("container", "run", "--rm", "--network", "modes", "--mac-address", "01:00:00:00:00:01", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "invalid MAC address") {
		t.Errorf("a multicast --mac-address: exit %d, %q", r.code, r.stderr)
	}
	if r := run("container", "run", "--rm", "--link", "ghost", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "could not get container for ghost") {
		t.Errorf("a link to nothing: exit %d, %q", r.code, r.stderr)
	}
	// after a disconnect, the next connect takes the free ethN
	for i, n := range []string{"m1", "m2", "m3"} {
		run("network", "create", "--subnet", fmt.Sprintf("10.21%d.0.0/24", i+2), n)
	}
	run("network", "connect", "m1", "owner")
	run("network", "connect", "m2", "owner")
	run("network", "disconnect", "m1", "owner")
	if r := run("network", "connect", "m3", "owner"); r.code != 0 {
		t.Errorf("connect after disconnect: %s", r.stderr)
	}
	if got := run("container", "exec", "owner", "busybox", "ip", "-4", "-o", "addr", "show", "eth1").stdout; !strings.Contains(got, "10.214.0.") {
		t.Errorf("eth1 after m1 left and m3 came: %q", got)
	}
	run("container", "stop", "-t", "0", "owner")
	if r := run("container", "run", "--rm", "--network", "container:owner", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "non running container") {
		t.Errorf("container mode with the owner stopped: exit %d, %q", r.code, r.stderr)
	}
	if got := run("container", "inspect", "-f", "{{.HostConfig.NetworkMode}}", "owner").stdout; got != "modes\n" {
		t.Errorf("NetworkMode: %q", got)
	}
}

// hostVeths names the host ends of berth's veths (vb...).
func hostVeths() []string {
	var veths []string
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "vb") {
			veths = append(veths, l.Attrs().Name)
		}
	}
	return veths
}

// TestNetworkPruneFailsClosed: while a container's record cannot be read,
// which networks it uses is not known, so network prune removes none,
// and says why; it takes an unused one once the record is readable again.
func TestNetworkPruneFailsClosed(t *testing.T) {
	requireRoot(t)
	root, dir := t.TempDir(), t.TempDir()
	env := []string{"BERTH_ADDRESS_POOLS=10.216.0.0/16/24"}
	run := func(args ...string) result {
		t.Helper()
		return berthEnv(t, dir, env, "", append([]string{"--root", root}, args...)...)
	}
	t.Cleanup(func() {
		for _, id := range strings.Fields(run("network", "ls", "-q").stdout) {
			run("network", "rm", id)
		}
	})
	if r := run("network", "create", "spare"); r.code != 0 {
		t.Fatalf("network create: %s", r.stderr)
	}
	// a container whose record is damaged: no process is making it
	damaged := filepath.Join(root, "containers", strings.Repeat("ab", 32))
	if err := os.MkdirAll(damaged, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(damaged, "config.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run("network", "prune", "-f"); r.code == 0 || !strings.Contains(r.stderr, "cannot be read") {
		t.Errorf("prune with an unreadable record: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if ls := run("network", "ls", "--format", "{{.Name}}").stdout; !strings.Contains(ls, "spare\n") {
		t.Errorf("network pruned while its users were unknown: %q", ls)
	}
	if err := os.RemoveAll(damaged); err != nil {
		t.Fatal(err)
	}
	if r := run("network", "prune", "-f"); r.stdout != "Deleted Networks:\nspare\n\n" {
		t.Errorf("prune: %q %q", r.stdout, r.stderr)
	}
}
