package dns

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// upstream is a fake upstream server on 127.0.0.1: it knows example.test
// and big.test (40 addresses, too many for 512 bytes of UDP) and counts
// the questions it gets.
type upstream struct {
	addr  string
	asked atomic.Int32
}

func startUpstream(t *testing.T) *upstream {
	u := &upstream{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	ln, err := net.Listen("tcp", u.addr)
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		u.asked.Add(1)
		reply := new(dns.Msg)
		reply.SetReply(q)
		switch q.Question[0].Name {
		case "example.test.":
			reply.Answer = append(reply.Answer, &dns.A{Hdr: header(q.Question[0].Name, dns.TypeA), A: net.IPv4(192, 0, 2, 7)})
		case "big.test.":
			for i := range 40 {
				reply.Answer = append(reply.Answer, &dns.A{Hdr: header(q.Question[0].Name, dns.TypeA), A: net.IPv4(192, 0, 2, byte(i))})
			}
		default:
			reply.Rcode = dns.RcodeNameError
		}
		if w.LocalAddr().Network() == "udp" {
			reply.Truncate(dns.MinMsgSize)
		}
		w.WriteMsg(reply)
	})
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
		t.Cleanup(func() { s.Shutdown() })
	}
	return u
}

// startResolver serves r on 127.0.0.1, UDP and TCP, and returns the address.
func startResolver(t *testing.T, r *Resolver) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Serve(ctx, []net.PacketConn{pc}, ln, r); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return pc.LocalAddr().String()
}

func ask(t *testing.T, server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: network, Timeout: 3 * time.Second}
	reply, _, err := c.Exchange(q, server)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", dns.TypeToString[qtype], name, network, err)
	}
	return reply
}

// answer renders a reply as "RCODE addr,addr" (addresses sorted), or
// with PTR targets.
func answer(m *dns.Msg) string {
	var got []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			got = append(got, rr.A.String())
		case *dns.PTR:
			got = append(got, rr.Ptr)
		}
	}
	sort.Strings(got)
	return strings.TrimSpace(dns.RcodeToString[m.Rcode] + " " + strings.Join(got, ","))
}

func entry(network, id, addr string, names ...string) Entry {
	return Entry{Network: network, Container: id, Names: names, Address: netip.MustParseAddr(addr)}
}

// TestResolver runs the resolver as a real server against a table on disk
// and a fake upstream, and asks it what a container would.
func TestResolver(t *testing.T) {
	dir := t.TempDir()
	for _, e := range []Entry{
		entry("front", "me", "10.0.0.9", "me"),
		entry("front", "w1", "10.0.0.2", "web-1", "web"),
		entry("front", "w2", "10.0.0.3", "web-2", "web"),
		entry("back", "db", "10.1.0.2", "db"),
	} {
		if err := WriteEntry(dir, e); err != nil {
			t.Fatal(err)
		}
	}
	table, err := OpenTable(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer table.Close()
	up := startUpstream(t)
	dead, _ := net.ListenPacket("udp", "127.0.0.1:0") // closed at once: nothing answers there
	deadAddr := dead.LocalAddr().String()
	dead.Close()
	server := startResolver(t, &Resolver{Table: table, Self: "me", Upstreams: []string{deadAddr, up.addr}, Timeout: 500 * time.Millisecond,
		Links: map[string]string{"www": "web-1"}})

	for _, c := range []struct {
		name  string
		qtype uint16
		want  string
		asked bool // forwarded upstream
	}{
		{"web", dns.TypeA, "NOERROR 10.0.0.2,10.0.0.3", false},
		{"WEB-1", dns.TypeA, "NOERROR 10.0.0.2", false},
		{"web-1.front", dns.TypeA, "NOERROR 10.0.0.2", false},
		{"web-1", dns.TypeAAAA, "NOERROR", false},
		{"WWW", dns.TypeA, "NOERROR 10.0.0.2", false}, // a link of mine
		{"2.0.0.10.in-addr.arpa", dns.TypePTR, "NOERROR web-1.front.", false},
		// not on a network of mine: not berth's to answer
		{"db", dns.TypeA, "NXDOMAIN", true},
		{"web-1.back", dns.TypeA, "NXDOMAIN", true},
		{"example.test", dns.TypeA, "NOERROR 192.0.2.7", true},
	} {
		before := up.asked.Load()
		reply := ask(t, server, "udp", c.name, c.qtype)
		if got := answer(reply); got != c.want {
			t.Errorf("%s %s: %s, want %s", dns.TypeToString[c.qtype], c.name, got, c.want)
		}
		if asked := up.asked.Load() > before; asked != c.asked {
			t.Errorf("%s %s: forwarded %v, want %v", dns.TypeToString[c.qtype], c.name, asked, c.asked)
		}
		if !c.asked && len(reply.Answer) > 0 && reply.Answer[0].Header().Ttl != TTL {
			t.Errorf("%s: TTL %d, want %d", c.name, reply.Answer[0].Header().Ttl, TTL)
		}
	}
	// a service's replicas come shuffled
	orders := map[string]bool{}
	for range 40 {
		reply := ask(t, server, "udp", "web", dns.TypeA)
		orders[reply.Answer[0].(*dns.A).A.String()] = true
	}
	if len(orders) != 2 {
		t.Errorf("40 queries for web always gave the same first address: %v", orders)
	}
	// over TCP too; a truncated upstream answer reaches the client
	// truncated over UDP, and whole over TCP
	if got := answer(ask(t, server, "tcp", "web-2", dns.TypeA)); got != "NOERROR 10.0.0.3" {
		t.Errorf("over TCP: %s", got)
	}
	if reply := ask(t, server, "udp", "big.test", dns.TypeA); !reply.Truncated || len(reply.Answer) >= 40 {
		t.Errorf("big answer over UDP: truncated %v, %d records", reply.Truncated, len(reply.Answer))
	}
	if reply := ask(t, server, "tcp", "big.test", dns.TypeA); reply.Truncated || len(reply.Answer) != 40 {
		t.Errorf("big answer over TCP: truncated %v, %d records", reply.Truncated, len(reply.Answer))
	}
	// changes are seen with the next query: joining back, a stopped replica
	WriteEntry(dir, entry("back", "me", "10.1.0.9", "me"))
	RemoveEntry(dir, "front", "w1")
	waitFor(t, func() bool { return answer(ask(t, server, "udp", "db", dns.TypeA)) == "NOERROR 10.1.0.2" }, "db after joining back")
	if got := answer(ask(t, server, "udp", "web", dns.TypeA)); got != "NOERROR 10.0.0.3" {
		t.Errorf("web after web-1 stopped: %s", got)
	}
}

// waitFor gives fsnotify the moment it takes to report a change.
func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for range 100 {
		if ok() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%s: never seen", what)
}

// TestResolverInternal: a container only on internal networks gets its
// neighbours' names, and NXDOMAIN for every other name, which never leaves.
func TestResolverInternal(t *testing.T) {
	dir := t.TempDir()
	me := entry("vault", "me", "10.2.0.9", "me")
	me.Internal = true
	WriteEntry(dir, me)
	WriteEntry(dir, entry("vault", "kms", "10.2.0.2", "kms"))
	table, err := OpenTable(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer table.Close()
	up := startUpstream(t)
	server := startResolver(t, &Resolver{Table: table, Self: "me", Upstreams: []string{up.addr}})
	if got := answer(ask(t, server, "udp", "kms", dns.TypeA)); got != "NOERROR 10.2.0.2" {
		t.Errorf("kms: %s", got)
	}
	if got := answer(ask(t, server, "udp", "example.test", dns.TypeA)); got != "NXDOMAIN" || up.asked.Load() != 0 {
		t.Errorf("example.test from an internal network: %s, upstream asked %d times", got, up.asked.Load())
	}
}

// TestResolverNoUpstream: every upstream failing is SERVFAIL, not a hang.
func TestResolverNoUpstream(t *testing.T) {
	dir := t.TempDir()
	WriteEntry(dir, entry("front", "me", "10.0.0.9", "me"))
	table, err := OpenTable(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer table.Close()
	dead, _ := net.ListenPacket("udp", "127.0.0.1:0")
	addr := dead.LocalAddr().String()
	dead.Close()
	server := startResolver(t, &Resolver{Table: table, Self: "me", Upstreams: []string{addr}, Timeout: 300 * time.Millisecond})
	if got := answer(ask(t, server, "udp", "example.test", dns.TypeA)); got != "SERVFAIL" {
		t.Errorf("no upstream answering: %s", got)
	}
}

func TestUpstreams(t *testing.T) {
	for _, c := range []struct {
		user           []string
		host, resolved string
		want           []string
	}{
		{nil, "nameserver 10.0.0.1\nnameserver ::1\nsearch x\n", "", []string{"10.0.0.1:53", "[::1]:53"}},
		{nil, "nameserver 127.0.0.53\noptions edns0\n", "nameserver 9.9.9.9\nnameserver 1.1.1.1\n", []string{"9.9.9.9:53", "1.1.1.1:53"}},
		{nil, "nameserver 127.0.0.53\n", "", []string{"127.0.0.53:53"}}, // resolved's list missing: its stub, from the host's namespace
		{[]string{"10.9.9.9"}, "nameserver 10.0.0.1\n", "", []string{"10.9.9.9:53"}},
		{nil, "", "", nil},
	} {
		if got := Upstreams(c.user, []byte(c.host), []byte(c.resolved)); !slices.Equal(got, c.want) {
			t.Errorf("Upstreams(%v, %q, %q) = %v, want %v", c.user, c.host, c.resolved, got, c.want)
		}
	}
}

func BenchmarkResolverLocal(b *testing.B) {
	dir := b.TempDir()
	for i := range 50 {
		WriteEntry(dir, entry("front", fmt.Sprint("c", i), fmt.Sprintf("10.0.0.%d", i+2), fmt.Sprint("svc-", i), "svc"))
	}
	WriteEntry(dir, entry("front", "me", "10.0.1.1", "me"))
	table, err := OpenTable(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer table.Close()
	t := &testing.T{}
	server := startResolver(t, &Resolver{Table: table, Self: "me"})
	c := &dns.Client{Net: "udp"}
	conn, err := c.Dial(server)
	if err != nil {
		b.Fatal(err)
	}
	q := new(dns.Msg)
	q.SetQuestion("svc-7.", dns.TypeA)
	b.ResetTimer()
	for range b.N {
		if _, _, err := c.ExchangeWithConn(q, conn); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTableUnwatched: a table with no inotify to spare reads the files on
// every query, and so is never stale either.
func TestTableUnwatched(t *testing.T) {
	dir := t.TempDir()
	table := &Table{dir: dir}
	WriteEntry(dir, entry("front", "a", "10.0.0.2", "a"))
	if got := table.Entries(); len(got) != 1 {
		t.Fatalf("entries: %v", got)
	}
	RemoveEntry(dir, "front", "a")
	if got := table.Entries(); len(got) != 0 {
		t.Errorf("after removal: %v", got)
	}
}

// TestFastPath: an answer from packed bytes keeps the question as asked
// (its case, which some resolvers check) and is a well-formed message;
// what the fast path does not know goes the slow way.
func TestFastPath(t *testing.T) {
	dir := t.TempDir()
	WriteEntry(dir, entry("front", "me", "10.0.0.9", "me"))
	WriteEntry(dir, entry("front", "w1", "10.0.0.2", "web-1", "web"))
	WriteEntry(dir, entry("front", "w2", "10.0.0.3", "web-2", "web"))
	table, err := OpenTable(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer table.Close()
	r := &Resolver{Table: table, Self: "me"}
	for _, c := range []struct {
		name  string
		qtype uint16
		n     int // answers; -1: not the fast path's
	}{{"WeB-1.", dns.TypeA, 1}, {"web.front.", dns.TypeA, 2}, {"web.", dns.TypeAAAA, 0}, {"2.0.0.10.in-addr.arpa.", dns.TypePTR, 1}, {"nope.", dns.TypeA, -1}, {"web.", dns.TypeMX, -1}} {
		q := new(dns.Msg)
		q.SetQuestion(c.name, c.qtype)
		q.Id = 4242
		pkt, _ := q.Pack()
		resp := r.fast(pkt, nil)
		if c.n < 0 {
			if resp != nil {
				t.Errorf("%s: answered on the fast path", c.name)
			}
			continue
		}
		reply := new(dns.Msg)
		if err := reply.Unpack(resp); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if reply.Id != 4242 || !reply.Response || !reply.Authoritative || reply.Question[0].Name != c.name || len(reply.Answer) != c.n {
			t.Errorf("%s: %v", c.name, reply)
		}
		for _, rr := range reply.Answer {
			if rr.Header().Name != c.name || rr.Header().Ttl != TTL {
				t.Errorf("%s: record %v", c.name, rr)
			}
		}
	}
}

func FuzzFastPath(f *testing.F) {
	dir := f.TempDir()
	WriteEntry(dir, entry("front", "me", "10.0.0.9", "me"))
	WriteEntry(dir, entry("front", "w1", "10.0.0.2", "web"))
	table := &Table{dir: dir}
	r := &Resolver{Table: table, Self: "me"}
	q := new(dns.Msg)
	q.SetQuestion("web.", dns.TypeA)
	seed, _ := q.Pack()
	f.Add(seed)
	q.SetEdns0(4096, false)
	seed, _ = q.Pack()
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		resp := r.fast(b, nil)
		if resp == nil {
			return
		}
		reply := new(dns.Msg)
		if err := reply.Unpack(resp); err != nil {
			t.Fatalf("fast answer does not unpack: %v", err)
		}
		if reply.Id != binary.BigEndian.Uint16(b) {
			t.Errorf("ID %d, asked %d", reply.Id, binary.BigEndian.Uint16(b))
		}
	})
}
