package integration

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/netns"
)

// Containers on berth's networks next to another firewall (issue 13): a
// host whose iptables FORWARD chain drops by policy, as Docker Engine
// leaves it (with br_netfilter, which sends even packets bridged between
// two containers of one bridge through that chain), and as ufw or
// firewalld do. TestBesideDocker runs the stack beside a real Docker
// Engine on this machine (scripts/test.sh starts one, see
// scripts/docker-beside.sh); TestDropPolicy runs berth in a network
// namespace of the test's own whose FORWARD policy is DROP with no Docker
// at all, so it never touches the machine's own firewall.

// neighbourStack: a web server published on an ephemeral host port, and a
// client that reaches it by name.
const neighbourStack = `name: %s
services:
  web:
    image: bb:1
    command: ["sh", "-c", "mkdir -p /www && echo hello from web > /www/index.html && exec busybox httpd -f -p 80 -h /www"]
    ports: ["80"]
  client:
    image: bb:1
    command: ["sleep", "600"]
`

// testNet is a network namespace of the test's own: a stand-in for a
// host or for the outside.
type testNet = fixture.NetNS

func newNet(t *testing.T) testNet { return fixture.NewNetNS(t) }

// uplink joins host (nil: the machine's own namespace) and outside with a
// veth pair of a unique name: hostAddr on the host's side, outAddr on the
// outside's, both /30. The pair goes when the test ends.
func uplink(t *testing.T, host *testNet, outside testNet, hostAddr, outAddr string) {
	t.Helper()
	h := netlink.Handle{}
	if host != nil {
		h = *host.Handle
	} else {
		hh, err := netlink.NewHandle()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(hh.Close)
		h = *hh
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := "bu" + hex.EncodeToString(suffix)
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "wan", PeerNamespace: netlink.NsFd(outside.NS)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := h.LinkByName(name); err == nil {
			h.LinkDel(l)
		}
	})
	for _, side := range []struct {
		h    *netlink.Handle
		name string
		addr string
	}{{&h, name, hostAddr + "/30"}, {outside.Handle, "wan", outAddr + "/30"}} {
		link, err := side.h.LinkByName(side.name)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := netlink.ParseAddr(side.addr)
		if err := side.h.AddrAdd(link, a); err != nil {
			t.Fatal(err)
		}
		side.h.LinkSetUp(link)
	}
}

// serveOutside answers HTTP requests on addr in the outside namespace
// with the address they came from.
func serveOutside(t *testing.T, outside testNet, addr string) {
	t.Helper()
	var ln net.Listener
	var err error
	outside.Do(t, func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		io.WriteString(w, host)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// httpGet is a shell command that prints the body of http://host:port/
// (one line) from a busybox container: busybox's nc, since its static
// wget crashes where the image has no resolver libraries.
func httpGet(host string, port int) string {
	return fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 %s %d | busybox tail -n 1`, host, port)
}

// getFrom fetches http://addr/ with a connection made in ns (nil: the
// test's own namespace) and returns the body.
func getFrom(t *testing.T, ns *testNet, addr string) (string, error) {
	var c net.Conn
	var err error
	dial := func() { c, err = net.DialTimeout("tcp", addr, 2*time.Second) }
	if ns != nil {
		ns.Do(t, dial)
	} else {
		dial()
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(body)), err
}

// neighbourly brings the stack up with compose and checks, from every
// side, what must work next to a firewall whose FORWARD policy drops:
// container to container by name, container to the outside through NAT
// (the outside sees hostAddr), the published port from the outside (ns
// outside, through hostAddr) and from the host on 127.0.0.1. Then berth's
// jump is taken away, as a firewall's reload or a Docker that flushed
// FORWARD would, and `up` puts it back. ipt runs iptables where berth
// runs.
func neighbourly(t *testing.T, compose func(args ...string) result, root string, outside, host *testNet, hostAddr, outAddr string, ipt func(args ...string) (string, error)) {
	t.Helper()
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d\n%s", r.code, r.stderr)
	}
	byName := func() string {
		r := compose("exec", "-T", "client", "sh", "-c", httpGet("web", 80))
		if r.code != 0 {
			t.Logf("client to web: exit %d: %s", r.code, r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	if got := byName(); got != "hello from web" {
		t.Errorf("client to web by name: %q; want hello from web", got)
	}
	if r := compose("exec", "-T", "client", "sh", "-c", httpGet(outAddr, 7000)); strings.TrimSpace(r.stdout) != hostAddr {
		t.Errorf("client to the outside: seen as %q (exit %d: %s); want %s (masqueraded)", r.stdout, r.code, r.stderr, hostAddr)
	}
	port := strings.TrimSpace(compose("port", "web", "80").stdout)
	_, hostPort, _ := net.SplitHostPort(port)
	if hostPort == "" {
		t.Fatalf("port web 80: %q", port)
	}
	if got, err := getFrom(t, outside, net.JoinHostPort(hostAddr, hostPort)); got != "hello from web" {
		t.Errorf("the outside to the published port %s:%s: %q, %v", hostAddr, hostPort, got, err)
	}
	if got, err := getFrom(t, host, "127.0.0.1:"+hostPort); got != "hello from web" {
		t.Errorf("the host to 127.0.0.1:%s: %q, %v", hostPort, got, err)
	}

	chain := netns.TableName(filepath.Join(root, "networks"))
	rules, err := ipt("-S")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rules, "-A FORWARD -j "+chain) {
		t.Fatalf("no jump to berth's chain %s in FORWARD:\n%s", chain, rules)
	}
	for _, line := range strings.Split(rules, "\n") {
		if strings.HasPrefix(line, "-A "+chain+" ") && (strings.Contains(line, "docker") || !strings.Contains(line, "br-") && !strings.Contains(line, "--comment")) {
			t.Errorf("berth's chain has a rule for more than its own bridges: %s", line)
		}
	}
	// a reload took berth's jump away: the firewall's policy drops again,
	// until the next up (or container start) puts it back
	if _, err := ipt("-D", "FORWARD", "-j", chain); err != nil {
		t.Fatal(err)
	}
	if got := byName(); got != "" {
		t.Errorf("with berth's jump gone, client still reached web: %q (is the FORWARD policy DROP?)", got)
	}
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up again: exit %d\n%s", r.code, r.stderr)
	}
	if got := byName(); got != "hello from web" {
		t.Errorf("after up put berth's jump back: %q", got)
	}
	if r := compose("down", "-t", "0"); r.code != 0 {
		t.Fatalf("down: exit %d\n%s", r.code, r.stderr)
	}
	rules, _ = ipt("-S")
	if strings.Contains(rules, chain) {
		t.Errorf("berth's chain outlived its networks:\n%s", rules)
	}
	if !strings.Contains(rules, "-P FORWARD DROP") {
		t.Errorf("the FORWARD policy is no longer DROP:\n%s", rules)
	}
}

// TestDropPolicy: berth, its monitors and its containers in a network
// namespace that stands for a host whose firewall drops forwarded packets
// by policy (iptables-nft, as ufw and Debian's iptables leave it), with no
// Docker: the stack works from every side, and berth never changes the
// policy.
func TestDropPolicy(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("iptables-nft"); err != nil {
		t.Skip("iptables is not installed (scripts/deps.sh installs it)")
	}
	root, _ := busyboxRoot(t)
	host, outside := newNet(t), newNet(t)
	uplink(t, &host, outside, "192.0.2.2", "192.0.2.1")
	serveOutside(t, outside, "192.0.2.1:7000")
	ipt := func(args ...string) (string, error) {
		out, err := exec.Command("nsenter", append([]string{"--net=" + host.Path(), "iptables-nft", "-w", "5"}, args...)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("iptables-nft %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	if _, err := ipt("-P", "FORWARD", "DROP"); err != nil {
		t.Fatal(err)
	}
	dir := project(t, map[string]string{"compose.yaml": fmt.Sprintf(neighbourStack, "droppolicy")})
	wrapper := filepath.Join(t.TempDir(), "berth-in-netns")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec nsenter --net="+host.Path()+" "+berthBin+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) result {
		t.Helper()
		return berthVia(t, wrapper, dir, nil, "", append([]string{"--root", root}, args...)...)
	}
	t.Cleanup(func() { compose("down", "-v", "-t", "0") })
	neighbourly(t, compose, root, &outside, &host, "192.0.2.2", "192.0.2.1", ipt)
}

// dockerRunning reports whether a Docker Engine answers on this machine:
// the system's, or the one scripts/docker-beside.sh started.
func dockerRunning() bool {
	for _, sock := range []string{"/var/run/docker.sock", "/run/berth-test-docker/docker.sock"} {
		c, err := net.DialTimeout("unix", sock, time.Second)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprint(c, "GET /_ping HTTP/1.0\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err == nil && resp.StatusCode == http.StatusOK {
			return true
		}
	}
	return false
}

// TestBesideDocker: the stack beside a real Docker Engine on this machine,
// whose FORWARD policy is DROP: containers reach each other by name and
// the outside (a namespace of the test's, joined to the machine by a veth
// on TEST-NET-2 addresses), the published port is reached from there and
// from the host, and berth's rules name only its own bridges.
func TestBesideDocker(t *testing.T) {
	requireRoot(t)
	if !dockerRunning() {
		t.Skip("no Docker Engine runs on this machine: scripts/test.sh starts one beside berth (scripts/docker-beside.sh start)")
	}
	ipt := func(args ...string) (string, error) {
		out, err := exec.Command("iptables", append([]string{"-w", "5"}, args...)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	if rules, err := ipt("-S", "FORWARD"); err != nil || !strings.Contains(rules, "-P FORWARD DROP") {
		t.Fatalf("Docker Engine runs, but the FORWARD policy is not DROP (%v):\n%s", err, rules)
	}
	dir, root, compose := composeRoot(t, fmt.Sprintf(neighbourStack, "besidedocker"))
	_ = dir
	outside := newNet(t)
	uplink(t, nil, outside, "198.51.100.1", "198.51.100.2")
	serveOutside(t, outside, "198.51.100.2:7000")
	neighbourly(t, compose, root, &outside, nil, "198.51.100.1", "198.51.100.2", ipt)
}
