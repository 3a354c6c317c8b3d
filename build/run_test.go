package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	dnslib "github.com/miekg/dns"
	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/netns"
)

// tearDownNetworks removes, when the test ends, every network of root
// (the default one that RUN steps join) and puts IPv4 forwarding back as
// it was.
func tearDownNetworks(t testing.TB, root string) {
	if before, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil {
		t.Cleanup(func() { os.WriteFile("/proc/sys/net/ipv4/ip_forward", before, 0o644) })
	}
	t.Cleanup(func() {
		if _, err := os.Stat(networksDir(root)); err != nil {
			return
		}
		s, done, err := netns.OpenHost(networksDir(root))
		if err != nil {
			t.Errorf("tearing down the networks: %v", err)
			return
		}
		defer done()
		if err := s.Teardown(context.Background()); err != nil {
			t.Errorf("tearing down the networks: %v", err)
		}
	})
}

// build builds df in ctxDir with o, tagged tag, failing the test if it
// fails.
func build(t *testing.T, root, ctxDir, df, tag string, o RunOptions) Result {
	t.Helper()
	var out bytes.Buffer
	res, err := Build(context.Background(), Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte(df), Tags: []string{tag}, Progress: &out, RunOptions: o})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return res
}

// buildErr builds df and returns its error.
func buildErr(t *testing.T, root, df string, o RunOptions) error {
	t.Helper()
	_, err := Build(context.Background(), Options{Root: root, ContextDir: t.TempDir(), DockerfileInline: []byte(df), Tags: []string{"refused"}, RunOptions: o})
	return err
}

// read is the content of p in the image view dir.
func read(t *testing.T, dir, p string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, p))
	if err != nil {
		t.Errorf("%s: %v", p, err)
	}
	return string(data)
}

// allLayers is every entry of every layer of img, with its content.
func allLayers(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	out := map[string]string{}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(tr)
			out[fmt.Sprintf("%d:%s", i, h.Name)] = string(body)
		}
		rc.Close()
	}
	return out
}

// fakeDNS answers A queries for example.test with 192.0.2.7 on addr:53.
func fakeDNS(t *testing.T, addr string) {
	pc, err := net.ListenPacket("udp", net.JoinHostPort(addr, "53"))
	if err != nil {
		t.Fatalf("fake DNS server: %v", err)
	}
	h := dnslib.HandlerFunc(func(w dnslib.ResponseWriter, q *dnslib.Msg) {
		reply := new(dnslib.Msg)
		reply.SetReply(q)
		if q.Question[0].Name == "example.test." && q.Question[0].Qtype == dnslib.TypeA {
			reply.Answer = append(reply.Answer, &dnslib.A{Hdr: dnslib.RR_Header{Name: "example.test.", Rrtype: dnslib.TypeA, Class: dnslib.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 7)})
		} else {
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
}

// TestRunDefaultNetwork: a RUN step is on berth's default bridge network,
// as a container that names no network: it has an address there, reaches
// the host at the gateway (here an HTTP server of the test's, bound to the
// gateway's address), resolves names through the host's nameservers (here
// a fake one at the gateway, named by the resolv.conf the step's is made
// from), has BuildKit's /etc/hosts with the extra hosts, and its layer
// holds neither file. Nothing of the network outlives the step.
func TestRunDefaultNetwork(t *testing.T) {
	root := newRoot(t)
	s, done, err := netns.OpenHost(networksDir(root))
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Default(context.Background())
	done()
	if err != nil {
		t.Fatal(err)
	}
	gw := n.Subnet.Gateway.String()
	ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "served from the host\n") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	fakeDNS(t, gw)
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(rc, []byte("nameserver 127.0.0.53\nnameserver "+gw+"\nsearch example.org\n"), 0o644)
	hostResolvConf = rc
	t.Cleanup(func() { hostResolvConf = "" })

	df := fmt.Sprintf(`FROM busybox:test
RUN wget -q -O /got http://%s/page && busybox ip -4 -o addr show eth0 > /addr && busybox ip route > /route && \
    cat /etc/resolv.conf > /resolv && cat /etc/hosts > /hosts && busybox hostname > /hostname && \
    busybox nslookup -type=a example.test > /lookup 2>&1
`, ln.Addr())
	build(t, root, t.TempDir(), df, "net", RunOptions{ExtraHosts: []string{"db:10.1.2.3", "gw:host-gateway"}})
	dir, img := view(t, root, "net")
	if got := read(t, dir, "got"); got != "served from the host\n" {
		t.Errorf("fetched %q from the gateway", got)
	}
	if addr := read(t, dir, "addr"); !strings.Contains(addr, "inet "+n.Subnet.Prefix.Addr().String()[:strings.LastIndex(n.Subnet.Prefix.Addr().String(), ".")]) {
		t.Errorf("eth0 %q is not on the default network's %s", addr, n.Subnet.Prefix)
	}
	if route := read(t, dir, "route"); !strings.Contains(route, "default via "+gw) {
		t.Errorf("routes %q, want the default via %s", route, gw)
	}
	// the loopback nameserver is dropped, the rest kept, as BuildKit does
	if got, want := read(t, dir, "resolv"), "nameserver "+gw+"\nsearch example.org\n"; got != want {
		t.Errorf("resolv.conf %q, want %q", got, want)
	}
	if got := read(t, dir, "lookup"); !strings.Contains(got, "192.0.2.7") {
		t.Errorf("nslookup example.test:\n%s", got)
	}
	if got, want := read(t, dir, "hosts"), "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n10.1.2.3\tdb\n"+gw+"\tgw\n"; got != want {
		t.Errorf("hosts %q, want %q", got, want)
	}
	if got := read(t, dir, "hostname"); got != "buildkitsandbox\n" {
		t.Errorf("hostname %q", got)
	}
	for name := range allLayers(t, img) {
		if strings.HasSuffix(name, "etc/hosts") || strings.HasSuffix(name, "etc/resolv.conf") {
			t.Errorf("a layer holds %s", name)
		}
	}
	// the step's namespace, veth and address are gone
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), filepath.Join(root, "build")) {
		t.Errorf("mounts left under %s", filepath.Join(root, "build"))
	}
	ipam, _ := os.ReadFile(filepath.Join(networksDir(root), "ipam.json"))
	if strings.Contains(string(ipam), "berth-build-") {
		t.Errorf("a step's address is still held: %s", ipam)
	}
	links, _ := net.Interfaces()
	for _, l := range links {
		if strings.HasPrefix(l.Name, "veth") {
			if attrs, err := os.ReadFile("/sys/class/net/" + l.Name + "/master/uevent"); err == nil && strings.Contains(string(attrs), n.Bridge) {
				t.Errorf("veth %s still on %s", l.Name, n.Bridge)
			}
		}
	}
}

// TestRunNetworkModes: --network none is loopback only; RUN
// --network=host needs the network.host entitlement, which a build on
// the host's network has, and then sees the host's interfaces.
func TestRunNetworkModes(t *testing.T) {
	root := newRoot(t)
	build(t, root, t.TempDir(), "FROM busybox:test\nRUN busybox ip -o link | busybox cut -d: -f2 > /links\n", "none", RunOptions{Network: NetworkNone})
	dir, _ := view(t, root, "none")
	if got := read(t, dir, "links"); got != " lo\n" {
		t.Errorf("links with --network none: %q", got)
	}
	hostOnly := "FROM busybox:test\nRUN --network=host busybox ip -o link | busybox cut -d: -f2 > /links\n"
	if err := buildErr(t, root, hostOnly, RunOptions{}); err == nil || !strings.Contains(err.Error(), "network.host is not allowed") {
		t.Errorf("RUN --network=host without the entitlement: %v", err)
	}
	if err := buildErr(t, root, "FROM busybox:test\nRUN true\n", RunOptions{Network: "lan"}); err == nil || !strings.Contains(err.Error(), `network mode "lan" not supported`) {
		t.Errorf("--network lan: %v", err)
	}
	// a link of the test's own on the host: others come and go while
	// other tests run
	mark := fmt.Sprintf("bm%x", rand.Uint32())
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: mark}, PeerName: mark + "p"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(mark); err == nil {
			netlink.LinkDel(l)
		}
	})
	for i, o := range []RunOptions{{Allow: []string{AllowNetworkHost}}, {Network: NetworkHost}} {
		// a step of its own each time, not the first one's from the cache
		df := strings.Replace(hostOnly, "\nRUN", fmt.Sprintf("\nENV ROUND=%d\nRUN", i), 1)
		build(t, root, t.TempDir(), df, "host", o)
		dir, _ := view(t, root, "host")
		if !strings.Contains(read(t, dir, "links"), " "+mark+"@") { // a veth shows as NAME@PEER
			t.Errorf("%+v: the host's %s is not among the step's links: %q", o, mark, read(t, dir, "links"))
		}
	}
}

// TestRunConfinement: a RUN step has Docker's default capabilities and
// seccomp filter; RUN --security=insecure is refused unless the build
// allows security.insecure, and then runs privileged.
func TestRunConfinement(t *testing.T) {
	root := newRoot(t)
	df := "FROM busybox:test\nRUN busybox grep -E '^(CapEff|Seccomp):' /proc/self/status > /status\n"
	build(t, root, t.TempDir(), df, "confined", RunOptions{})
	dir, _ := view(t, root, "confined")
	// chown, dac_override, fowner, fsetid, kill, setgid, setuid, setpcap,
	// net_bind_service, net_raw, sys_chroot, mknod, audit_write, setfcap
	if got, want := read(t, dir, "status"), "CapEff:\t00000000a80425fb\nSeccomp:\t2\n"; got != want {
		t.Errorf("status %q, want Docker's default %q", got, want)
	}
	insecure := "FROM busybox:test\nRUN --security=insecure busybox grep -E '^(CapEff|Seccomp):' /proc/self/status > /status\n"
	if err := buildErr(t, root, insecure, RunOptions{}); err == nil || !strings.Contains(err.Error(), "security.insecure is not allowed") {
		t.Errorf("RUN --security=insecure without the entitlement: %v", err)
	}
	build(t, root, t.TempDir(), insecure, "insecure", RunOptions{Allow: []string{AllowInsecure}})
	dir, _ = view(t, root, "insecure")
	if got := read(t, dir, "status"); strings.Contains(got, "a80425fb") || !strings.Contains(got, "Seccomp:\t0\n") {
		t.Errorf("insecure status %q, want every capability and no seccomp", got)
	}
}

// TestRunLimits: --shm-size sizes /dev/shm and --ulimit sets the RUN's
// rlimits.
func TestRunLimits(t *testing.T) {
	root := newRoot(t)
	df := "FROM busybox:test\nRUN busybox df -k /dev/shm | busybox tail -1 | busybox awk '{print $2}' > /shm && ulimit -n > /nofile && ulimit -Hn >> /nofile\n"
	build(t, root, t.TempDir(), df, "limits", RunOptions{ShmSize: 128 << 20, Ulimits: []Ulimit{{Name: "nofile", Soft: 1000, Hard: 2000}}})
	dir, _ := view(t, root, "limits")
	if got := read(t, dir, "shm"); got != "131072\n" {
		t.Errorf("/dev/shm of %q KB, want 131072", got)
	}
	if got := read(t, dir, "nofile"); got != "1000\n2000\n" {
		t.Errorf("nofile %q, want 1000 and 2000", got)
	}
}

// TestRunCacheMount: a cache mount keeps its files from one build to the
// next (per id; a uid gives it its owner), is in no layer, and is gone
// after PruneCacheMounts.
func TestRunCacheMount(t *testing.T) {
	root := newRoot(t)
	df := `FROM busybox:test
RUN --mount=type=cache,target=/c --mount=type=cache,id=owned,target=/o,uid=65534,mode=0700 \
    sh -c 'echo x >> /c/n; busybox wc -l < /c/n > /count; busybox stat -c "%u %a" /o > /owner'
`
	for i, want := range []string{"1\n", "2\n"} {
		tag := fmt.Sprint("cached:", i)
		// a step of its own each time, not the first one's from the step
		// cache: the cache mount is what keeps the count
		df := strings.Replace(df, "\nRUN", fmt.Sprintf("\nENV ROUND=%d\nRUN", i), 1)
		build(t, root, t.TempDir(), df, tag, RunOptions{})
		dir, img := view(t, root, tag)
		if got := read(t, dir, "count"); got != want {
			t.Errorf("build %d: the cache held %q lines, want %q", i, got, want)
		}
		if got := read(t, dir, "owner"); got != "65534 700\n" {
			t.Errorf("build %d: the uid=65534 cache is %q", i, got)
		}
		for name := range allLayers(t, img) {
			if n := strings.TrimSuffix(name[strings.Index(name, ":")+1:], "/"); n == "c" || n == "o" || strings.HasPrefix(n, "c/") || strings.HasPrefix(n, "o/") {
				t.Errorf("a layer holds %s", name)
			}
		}
	}
	if freed, err := PruneCacheMounts(root); err != nil || freed == 0 {
		t.Errorf("prune: %d bytes, %v", freed, err)
	}
	build(t, root, t.TempDir(), df, "cached:2", RunOptions{})
	dir, _ := view(t, root, "cached:2")
	if got := read(t, dir, "count"); got != "1\n" {
		t.Errorf("after the prune the cache held %q lines, want 1", got)
	}
}

// TestRunSecret: a secret, from a file or the environment, is readable
// by the RUN that mounts it (as a file or an environment variable) and
// is in no layer and not in the history; a required secret the build
// lacks fails it.
func TestRunSecret(t *testing.T) {
	root := newRoot(t)
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte("s3cret-file"), 0o600)
	t.Setenv("BUILD_TEST_TOKEN", "s3cret-env")
	df := `FROM busybox:test
RUN --mount=type=secret,id=tok busybox wc -c < /run/secrets/tok > /file-len
RUN --mount=type=secret,id=envtok,target=/etc/tok,mode=0440,gid=65534 busybox wc -c < /etc/tok > /env-len && busybox stat -c "%a %g" /etc/tok > /mode
RUN --mount=type=secret,id=tok,env=TOK echo ${#TOK} > /as-env-len
RUN --mount=type=secret,id=absent cat /run/secrets/absent || echo optional > /absent
`
	sec := []Secret{{ID: "tok", File: file}, {ID: "envtok", Env: "BUILD_TEST_TOKEN"}}
	build(t, root, t.TempDir(), df, "secret", RunOptions{Secrets: sec})
	dir, img := view(t, root, "secret")
	for p, want := range map[string]string{"file-len": "11\n", "env-len": "10\n", "as-env-len": "11\n", "mode": "440 65534\n", "absent": "optional\n"} {
		if got := read(t, dir, p); got != want {
			t.Errorf("/%s: %q, want %q", p, got, want)
		}
	}
	for name, body := range allLayers(t, img) {
		if strings.Contains(body, "s3cret") || strings.Contains(name, "run/secrets") || strings.Contains(name, "etc/tok") {
			t.Errorf("a layer holds the secret: %s", name)
		}
	}
	cf, _ := img.RawConfigFile()
	if bytes.Contains(cf, []byte("s3cret")) {
		t.Errorf("the config holds the secret: %s", cf)
	}
	if err := buildErr(t, root, "FROM busybox:test\nRUN --mount=type=secret,id=nope,required=true true\n", RunOptions{}); err == nil || !strings.Contains(err.Error(), "secret nope: not found") {
		t.Errorf("a required secret missing: %v", err)
	}
	if _, err := ParseSecret("id=a,src=/x,env=Y"); err != nil {
		t.Errorf("ParseSecret: %v", err)
	}
	if s, err := ParseSecret("id=a,type=env,src=VAR"); err != nil || s.Env != "VAR" || s.File != "" {
		t.Errorf("type=env: %+v, %v", s, err)
	}
	if _, err := ParseSecret("src=/x"); err == nil {
		t.Errorf("a secret without an id was taken")
	}
}

// TestRunBindTmpfsMounts: a bind mount gives a RUN a context file or
// another stage's, read-only by default; rw writes go to a throwaway
// overlay (the context and the next step see none of them); a tmpfs is
// empty and in no layer; an ssh mount is refused.
func TestRunBindTmpfsMounts(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{"note.txt": "a note\n"})
	df := `FROM busybox:test AS other
RUN echo from the other stage > /made

FROM busybox:test
RUN --mount=type=bind,source=note.txt,target=/n cat /n > /from-ctx
RUN --mount=type=bind,from=other,source=/made,target=/m cat /m > /from-stage
RUN --mount=type=bind,target=/ctx sh -c 'touch /ctx/x 2>/dev/null && echo writable || echo read-only' > /ro
RUN --mount=type=bind,target=/ctx,rw sh -c 'echo changed > /ctx/note.txt; cat /ctx/note.txt' > /rw
RUN --mount=type=bind,target=/ctx cat /ctx/note.txt > /after
RUN --mount=type=tmpfs,target=/scratch sh -c 'ls /scratch | busybox wc -l; echo x > /scratch/f' > /tmpfs
`
	build(t, root, ctxDir, df, "bind", RunOptions{})
	dir, img := view(t, root, "bind")
	for p, want := range map[string]string{"from-ctx": "a note\n", "from-stage": "from the other stage\n", "ro": "read-only\n", "rw": "changed\n", "after": "a note\n", "tmpfs": "0\n"} {
		if got := read(t, dir, p); got != want {
			t.Errorf("/%s: %q, want %q", p, got, want)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(ctxDir, "note.txt")); string(got) != "a note\n" {
		t.Errorf("the rw mount changed the context: %q", got)
	}
	for name := range allLayers(t, img) {
		for _, stub := range []string{":n", ":m", ":ctx", ":scratch"} {
			if strings.HasSuffix(strings.TrimSuffix(name, "/"), stub) || strings.Contains(name, stub+"/") {
				t.Errorf("a layer holds the mount point %s", name)
			}
		}
	}
	if err := buildErr(t, root, "FROM busybox:test\nRUN --mount=type=ssh true\n", RunOptions{}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "type=ssh is not supported") {
		t.Errorf("an ssh mount: %v", err)
	}
}
