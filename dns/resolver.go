package dns

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
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
}

// ServeDNS answers one query.
func (r *Resolver) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	if len(q.Question) != 1 || q.Opcode != dns.OpcodeQuery {
		reply := new(dns.Msg)
		reply.SetRcode(q, dns.RcodeNotImplemented)
		w.WriteMsg(reply)
		return
	}
	entries := r.Table.Entries()
	mine, outward := r.networks(entries)
	if reply := r.local(q, entries, mine); reply != nil {
		w.WriteMsg(reply)
		return
	}
	if !outward || len(r.Upstreams) == 0 {
		reply := new(dns.Msg)
		reply.SetRcode(q, dns.RcodeNameError)
		reply.RecursionAvailable = true
		w.WriteMsg(reply)
		return
	}
	w.WriteMsg(r.forward(q, w.LocalAddr().Network()))
}

// networks are those Self is on, and whether one of them reaches out.
func (r *Resolver) networks(entries []Entry) (mine map[string]bool, outward bool) {
	mine = map[string]bool{}
	for _, e := range entries {
		if e.Container == r.Self {
			mine[e.Network] = true
			outward = outward || !e.Internal
		}
	}
	return mine, outward
}

// local answers from the table, or returns nil for a question that is not
// berth's to answer.
func (r *Resolver) local(q *dns.Msg, entries []Entry, mine map[string]bool) *dns.Msg {
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
		for _, e := range entries {
			if mine[e.Network] && e.Address == addr && len(e.Names) > 0 {
				reply.Answer = append(reply.Answer, &dns.PTR{Hdr: header(question.Name, dns.TypePTR), Ptr: dns.Fqdn(e.Names[0] + "." + e.Network)})
				return reply
			}
		}
		return nil
	}
	if question.Qtype != dns.TypeA && question.Qtype != dns.TypeAAAA {
		return nil
	}
	for alias, target := range r.Links {
		if strings.EqualFold(alias, name) {
			name = strings.ToLower(target)
		}
	}
	var addrs []netip.Addr
	for _, e := range entries {
		if !mine[e.Network] || !answersTo(e, name) || slices.Contains(addrs, e.Address) {
			continue
		}
		addrs = append(addrs, e.Address)
	}
	if len(addrs) == 0 {
		return nil
	}
	if question.Qtype == dns.TypeA {
		rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
		for _, a := range addrs {
			reply.Answer = append(reply.Answer, &dns.A{Hdr: header(question.Name, dns.TypeA), A: a.AsSlice()})
		}
	}
	return reply
}

// answersTo reports whether the entry is called name, alone or followed by
// its network's name.
func answersTo(e Entry, name string) bool {
	if base, ok := strings.CutSuffix(name, "."+strings.ToLower(e.Network)); ok {
		name = base
	}
	return slices.ContainsFunc(e.Names, func(n string) bool { return strings.EqualFold(n, name) })
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
func (r *Resolver) forward(q *dns.Msg, network string) *dns.Msg {
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
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
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

// Serve answers queries on the UDP socket pc and the TCP listener ln (both
// may be opened in another network namespace: a socket stays in the one it
// was made in) until ctx ends, then closes them.
func Serve(ctx context.Context, pc net.PacketConn, ln net.Listener, h dns.Handler) {
	servers := []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}}
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
	pc.Close()
	ln.Close()
}
