package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// The fast path: most of what a container asks its resolver is an A, AAAA
// or PTR question about a name berth knows, asked again and again. Such a
// question is answered straight from bytes packed once per change of the
// table, with the query's own question (its case kept) copied in and a
// compression pointer to it in each record, without unpacking the query or
// packing a message. Everything else takes the slow path: miekg/dns's
// parsing, Answer, and packing, in a goroutine of its own so that a
// forwarded question never holds up the others.

// answers are the packed answer records for one question, in each order
// a client may get them (every rotation of a service's replicas, so each
// comes first as often).
type answers struct {
	orders [][]byte
	count  uint16
}

// key is a fast-path lookup key: the lower-case name and the type.
func key(name string, qtype uint16) string {
	return name + "\x00" + string([]byte{byte(qtype >> 8), byte(qtype)})
}

// pack fills v.fast from its names and addresses.
func (v *view) pack() {
	v.fast = map[string]answers{}
	ttl := binary.BigEndian.AppendUint32(nil, TTL)
	for name, addrs := range v.byName {
		var rotations [][]byte
		for i := range addrs {
			var b []byte
			for j := range addrs {
				a := addrs[(i+j)%len(addrs)].As4()
				b = append(b, 0xc0, 0x0c, 0, byte(dns.TypeA), 0, byte(dns.ClassINET))
				b = append(append(b, ttl...), 0, 4)
				b = append(b, a[:]...)
			}
			rotations = append(rotations, b)
		}
		v.fast[key(name, dns.TypeA)] = answers{orders: rotations, count: uint16(len(addrs))}
		v.fast[key(name, dns.TypeAAAA)] = answers{orders: [][]byte{nil}}
	}
	for addr, target := range v.byAddr {
		rdata := make([]byte, 256)
		n, err := dns.PackDomainName(target, rdata, 0, nil, false)
		if err != nil {
			continue
		}
		b := []byte{0xc0, 0x0c, 0, byte(dns.TypePTR), 0, byte(dns.ClassINET)}
		b = append(append(b, ttl...), byte(n>>8), byte(n))
		b = append(b, rdata[:n]...)
		rev, err := dns.ReverseAddr(addr.String())
		if err != nil {
			continue
		}
		v.fast[key(strings.TrimSuffix(rev, "."), dns.TypePTR)] = answers{orders: [][]byte{b}, count: 1}
	}
}

// fast answers the query in b into out, or returns nil when it is not a
// plain question about a name of the view (or the answer would not fit
// in 512 bytes, which only the slow path truncates properly).
func (r *Resolver) fast(b, out []byte) []byte {
	if len(b) < 12 {
		return nil
	}
	flags := binary.BigEndian.Uint16(b[2:])
	// a query (QR 0), opcode QUERY, one question, nothing else but an OPT
	if flags&0xf800 != 0 || binary.BigEndian.Uint16(b[4:]) != 1 || binary.BigEndian.Uint16(b[6:]) != 0 ||
		binary.BigEndian.Uint16(b[8:]) != 0 || binary.BigEndian.Uint16(b[10:]) > 1 {
		return nil
	}
	var name []byte
	i := 12
	for {
		if i >= len(b) {
			return nil
		}
		l := int(b[i])
		if l == 0 {
			i++
			break
		}
		if l&0xc0 != 0 || i+1+l > len(b) || len(name)+l+1 > 255 {
			return nil // a pointer, or too long: the slow path judges
		}
		if len(name) > 0 {
			name = append(name, '.')
		}
		for _, c := range b[i+1 : i+1+l] {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			name = append(name, c)
		}
		i += 1 + l
	}
	if i+4 > len(b) || binary.BigEndian.Uint16(b[i+2:]) != dns.ClassINET {
		return nil
	}
	qtype := binary.BigEndian.Uint16(b[i:])
	question := b[12 : i+4]
	v := r.view()
	a, ok := v.fast[key(string(name), qtype)]
	if !ok {
		return nil
	}
	answer := a.orders[0]
	if len(a.orders) > 1 {
		answer = a.orders[rand.IntN(len(a.orders))]
	}
	if 12+len(question)+len(answer) > dns.MinMsgSize {
		return nil
	}
	out = append(out, b[0], b[1])
	// QR, AA, the query's RD, RA; NOERROR
	out = append(out, 0x84|byte(flags>>8)&0x01, 0x80)
	out = append(out, 0, 1, byte(a.count>>8), byte(a.count), 0, 0, 0, 0)
	out = append(out, question...)
	return append(out, answer...)
}

// serveUDP answers the queries that reach conn until it is closed.
func (r *Resolver) serveUDP(conn *net.UDPConn) {
	buf := make([]byte, 65535)
	out := make([]byte, 0, dns.MinMsgSize)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if resp := r.fast(buf[:n], out[:0]); resp != nil {
			conn.WriteToUDPAddrPort(resp, from)
			continue
		}
		go r.slow(conn, from, slices.Clone(buf[:n]))
	}
}

// slow answers one UDP query through Answer.
func (r *Resolver) slow(conn *net.UDPConn, to netip.AddrPort, pkt []byte) {
	q := new(dns.Msg)
	if err := q.Unpack(pkt); err != nil {
		return
	}
	reply := r.Answer(context.Background(), q, "udp")
	size := dns.MinMsgSize
	if o := q.IsEdns0(); o != nil {
		size = int(o.UDPSize())
	}
	reply.Truncate(size)
	if data, err := reply.Pack(); err == nil {
		conn.WriteToUDPAddrPort(data, to)
	}
}
