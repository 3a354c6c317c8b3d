package dns

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// TTL is the time to live of berth's own answers, in seconds: short, so
// that a recreated container's new address is seen at once (Docker's 600
// seconds is a known complaint).
const TTL = 1

// Resolver answers the queries of one container, as Docker's embedded DNS
// does. It is a dns.Handler, and each query goes through two steps:
//
//  1. local: A, AAAA and PTR questions about names and addresses on the
//     networks the container is on (those where the table has an entry
//     for Self). A name matches an entry's names, case-insensitively, or
//     name.network for one network only. A known name gets every address
//     it has, shuffled (a service's replicas); AAAA gets an empty answer
//     (berth's networks are IPv4), so the client does not go on to ask
//     upstream and get a stranger's address. The container's links are
//     its own aliases for others: an alias is looked up as the name of
//     the container it stands for.
//  2. forward: every other question goes to the upstream servers, in
//     order, by the transport it came by; an upstream's truncated UDP
//     answer goes back truncated, so the client asks again over TCP,
//     which is forwarded over TCP. A container whose networks are all
//     internal forwards nothing: the name does not exist (NXDOMAIN).
//
// Failures of every upstream give SERVFAIL.
type Resolver struct {
	Table *Table
	// Self is the asking container's ID.
	Self string
	// Upstreams are host:port addresses, dialled from the resolver's own
	// namespace (the host's), so that loopback servers work.
	Upstreams []string
	// Links are this container's own names for others (--link, compose
	// links): alias to container name, lower case or not.
	Links map[string]string
	// Timeout bounds each upstream exchange; 0 is 2 s.
	Timeout time.Duration

	mu   sync.Mutex
	last *view
}

// view is what the resolver derives from one generation of the table for
// its container: built once per change, not per query.
type view struct {
	gen     uint64
	outward bool
	// byName maps a lower-case name, and name.network, to its addresses.
	byName map[string][]netip.Addr
	// byAddr maps an address to its PTR target, name.network.
	byAddr map[netip.Addr]string
	// fast holds the packed answers of the fast path (fast.go).
	fast map[string]answers
}

// view is the current view, rebuilt when the table has changed.
func (r *Resolver) view() *view {
	entries, gen := r.Table.Snapshot()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last != nil && r.last.gen == gen {
		return r.last
	}
	v := &view{gen: gen, byName: map[string][]netip.Addr{}, byAddr: map[netip.Addr]string{}}
	mine := map[string]bool{}
	for _, e := range entries {
		if e.Container == r.Self {
			mine[e.Network] = true
			v.outward = v.outward || !e.Internal
		}
	}
	add := func(name string, a netip.Addr) {
		if !slices.Contains(v.byName[name], a) {
			v.byName[name] = append(v.byName[name], a)
		}
	}
	for _, e := range entries {
		if !mine[e.Network] {
			continue
		}
		network := strings.ToLower(e.Network)
		for _, n := range e.Names {
			n = strings.ToLower(n)
			add(n, e.Address)
			add(n+"."+network, e.Address)
		}
		if _, ok := v.byAddr[e.Address]; !ok && len(e.Names) > 0 {
			v.byAddr[e.Address] = dns.Fqdn(e.Names[0] + "." + e.Network)
		}
	}
	// the container's links are its own names for others
	for alias, target := range r.Links {
		if addrs, ok := v.byName[strings.ToLower(target)]; ok {
			v.byName[strings.ToLower(alias)] = addrs
		}
	}
	v.pack()
	r.last = v
	return v
}

// ServeDNS answers one query (miekg/dns's server calls it for TCP).
func (r *Resolver) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	w.WriteMsg(r.Answer(context.Background(), q, w.LocalAddr().Network()))
}

// Answer is the reply to q, which came by network ("udp" or "tcp").
func (r *Resolver) Answer(ctx context.Context, q *dns.Msg, network string) *dns.Msg {
	if len(q.Question) != 1 || q.Opcode != dns.OpcodeQuery {
		reply := new(dns.Msg)
		reply.SetRcode(q, dns.RcodeNotImplemented)
		return reply
	}
	v := r.view()
	if reply := r.local(q, v); reply != nil {
		return reply
	}
	if !v.outward || len(r.Upstreams) == 0 {
		reply := new(dns.Msg)
		reply.SetRcode(q, dns.RcodeNameError)
		reply.RecursionAvailable = true
		return reply
	}
	return r.forward(ctx, q, network)
}

// local answers from the view, or returns nil for a question that is not
// berth's to answer.
func (r *Resolver) local(q *dns.Msg, v *view) *dns.Msg {
	question := q.Question[0]
	name := strings.ToLower(strings.TrimSuffix(question.Name, "."))
	reply := new(dns.Msg)
	reply.SetReply(q)
	reply.Authoritative, reply.RecursionAvailable = true, true
	if question.Qtype == dns.TypePTR {
		addr, ok := reverseAddr(name)
		if !ok {
			return nil
		}
		target, ok := v.byAddr[addr]
		if !ok {
			return nil
		}
		reply.Answer = append(reply.Answer, &dns.PTR{Hdr: header(question.Name, dns.TypePTR), Ptr: target})
		return reply
	}
	if question.Qtype != dns.TypeA && question.Qtype != dns.TypeAAAA {
		return nil
	}
	addrs := v.byName[name]
	if len(addrs) == 0 {
		return nil
	}
	if question.Qtype == dns.TypeA {
		order := rand.Perm(len(addrs))
		for _, i := range order {
			reply.Answer = append(reply.Answer, &dns.A{Hdr: header(question.Name, dns.TypeA), A: addrs[i].AsSlice()})
		}
	}
	return reply
}

func header(name string, typ uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: typ, Class: dns.ClassINET, Ttl: TTL}
}

// reverseAddr reads an IPv4 in-addr.arpa name: 2.0.18.172.in-addr.arpa
// is 172.18.0.2.
func reverseAddr(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa")
	if !ok {
		return netip.Addr{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	slices.Reverse(parts)
	a, err := netip.ParseAddr(strings.Join(parts, "."))
	return a, err == nil && a.Is4()
}

// forward asks the upstreams in turn by network ("udp" or "tcp").
func (r *Resolver) forward(ctx context.Context, q *dns.Msg, network string) *dns.Msg {
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	c := &dns.Client{Net: network, Timeout: timeout}
	if network == "udp" {
		// the client's own EDNS size, or the classic 512: a bigger answer
		// comes back truncated and the client retries over TCP
		c.UDPSize = dns.MinMsgSize
		if o := q.IsEdns0(); o != nil {
			c.UDPSize = o.UDPSize()
		}
	}
	for _, up := range r.Upstreams {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		reply, _, err := c.ExchangeContext(ctx, q, up)
		cancel()
		if err == nil && reply != nil {
			// unpacking forgot the upstream's name compression: without
			// it the same answer may no longer fit the client's buffer
			reply.Compress = true
			if network == "udp" {
				reply.Truncate(int(c.UDPSize))
			}
			return reply
		}
	}
	reply := new(dns.Msg)
	reply.SetRcode(q, dns.RcodeServerFailure)
	return reply
}

// Serve answers queries on the UDP sockets pcs and the TCP listener ln
// (all may be opened in another network namespace: a socket stays in the
// one it was made in) until ctx ends, then closes them. Several UDP
// sockets on one port (SO_REUSEPORT) spread the queries over the cores.
func Serve(ctx context.Context, pcs []net.PacketConn, ln net.Listener, r *Resolver) {
	for _, pc := range pcs {
		go r.serveUDP(pc.(*net.UDPConn))
	}
	servers := []*dns.Server{{Listener: ln, Handler: r}}
	started := make(chan struct{}, len(servers))
	for _, s := range servers {
		s.NotifyStartedFunc = func() { started <- struct{}{} }
		go func() {
			if err := s.ActivateAndServe(); err != nil {
				started <- struct{}{} // it will not start: nothing to wait for
			}
		}()
	}
	for range servers {
		<-started // Shutdown of a server not yet started does nothing
	}
	<-ctx.Done()
	for _, s := range servers {
		s.Shutdown()
	}
	for _, pc := range pcs {
		pc.Close()
	}
	ln.Close()
}
