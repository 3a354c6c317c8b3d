package netns

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is the nftables table (family ip) of the berth root whose
// networks live in dir: "berth-" and 8 hex digits of dir's hash, so that
// two roots on one host (tests run side by side) never rebuild each
// other's rules. berth touches nothing else: its rules match only traffic
// from and to its own bridges, and its chains keep the policy accept, so
// the host's own connections never meet a rule of berth's.
func TableName(dir string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(dir)))
	return "berth-" + hex.EncodeToString(sum[:4])
}

// Rule is what the firewall needs of one network: its bridge and subnet,
// and the ports its running containers publish.
type Rule struct {
	Bridge   string
	Subnet   netip.Prefix
	Internal bool
	Ports    []Published
}

// SyncFirewall makes berth's table say what rules ask for, in one atomic
// netlink batch: the table is a function of the networks, rebuilt whole
// on every change rather than edited rule by rule, so it can never drift
// from the records. With no rules the table is removed.
//
// For each network: traffic from its subnet leaving by another interface
// is masqueraded (outbound NAT), unless the network is internal, in which
// case nothing is forwarded into or out of its bridge; and nothing is
// forwarded between two berth bridges, so containers on two networks meet
// only on a network they share.
//
// Published ports are DNAT in the kernel, with no proxy in the data path:
// in prerouting for connections that arrive (from outside, or from a
// container to a host address: hairpin), and in output for the host's own
// connections, 127.0.0.1 included. Those from 127.0.0.1 leave by the
// bridge with a loopback source, which the kernel allows only with
// route_localnet on the bridge (set when the bridge is made), and are
// masqueraded to the gateway's address so the reply can come back; so are
// hairpin connections, whose reply would otherwise go straight to the
// container's own address and be dropped as unknown. An internal network
// publishes nothing.
func SyncFirewall(conn *nftables.Conn, name string, rules []Rule) error {
	table := &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}
	if len(rules) == 0 {
		tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return fmt.Errorf("listing nftables tables: %w", err)
		}
		for _, t := range tables {
			if t.Name == name {
				conn.DelTable(table)
				return flush(conn, name)
			}
		}
		return nil
	}
	conn.AddTable(table)
	conn.FlushTable(table)
	accept := nftables.ChainPolicyAccept
	post := conn.AddChain(&nftables.Chain{Name: "postrouting", Table: table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})
	fwd := conn.AddChain(&nftables.Chain{Name: "forward", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	var pre, out *nftables.Chain
	for _, r := range rules {
		if len(r.Ports) > 0 && !r.Internal && pre == nil {
			pre = conn.AddChain(&nftables.Chain{Name: "prerouting", Table: table, Type: nftables.ChainTypeNAT,
				Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
			out = conn.AddChain(&nftables.Chain{Name: "output", Table: table, Type: nftables.ChainTypeNAT,
				Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
		}
		if !r.Internal && len(r.Ports) > 0 {
			conn.AddRule(&nftables.Rule{Table: table, Chain: post, Exprs: join(source(netip.MustParsePrefix("127.0.0.0/8")), ifname(expr.MetaKeyOIFNAME, r.Bridge, true), []expr.Any{&expr.Masq{}})})
			for _, p := range r.Ports {
				for _, b := range p.Bindings {
					to := dnat(p.Address, b.Port)
					for _, c := range []*nftables.Chain{pre, out} {
						conn.AddRule(&nftables.Rule{Table: table, Chain: c, Exprs: join(hostAddr(b.HostIP), port(b.Proto, b.HostPort), to)})
					}
					conn.AddRule(&nftables.Rule{Table: table, Chain: post, Exprs: join(source(netip.PrefixFrom(p.Address, 32)),
						addr(16, netip.PrefixFrom(p.Address, 32)), port(b.Proto, b.Port), []expr.Any{&expr.Masq{}})})
				}
			}
		}
		if r.Internal {
			conn.AddRule(&nftables.Rule{Table: table, Chain: fwd, Exprs: join(ifname(expr.MetaKeyIIFNAME, r.Bridge, true), ifname(expr.MetaKeyOIFNAME, r.Bridge, false), verdict(expr.VerdictDrop))})
			conn.AddRule(&nftables.Rule{Table: table, Chain: fwd, Exprs: join(ifname(expr.MetaKeyOIFNAME, r.Bridge, true), ifname(expr.MetaKeyIIFNAME, r.Bridge, false), verdict(expr.VerdictDrop))})
		} else {
			conn.AddRule(&nftables.Rule{Table: table, Chain: post, Exprs: join(source(r.Subnet), ifname(expr.MetaKeyOIFNAME, r.Bridge, false), []expr.Any{&expr.Masq{}})})
		}
		for _, other := range rules {
			if other.Bridge != r.Bridge {
				conn.AddRule(&nftables.Rule{Table: table, Chain: fwd, Exprs: join(ifname(expr.MetaKeyIIFNAME, r.Bridge, true), ifname(expr.MetaKeyOIFNAME, other.Bridge, true), verdict(expr.VerdictDrop))})
			}
		}
	}
	return flush(conn, name)
}

func flush(conn *nftables.Conn, name string) error {
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("writing nftables table %s: %w", name, err)
	}
	return nil
}

func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ifname matches the input or output interface's name, or its absence
// when equal is false.
func ifname(key expr.MetaKey, name string, equal bool) []expr.Any {
	data := make([]byte, unix.IFNAMSIZ)
	copy(data, name)
	op := expr.CmpOpEq
	if !equal {
		op = expr.CmpOpNeq
	}
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: data}}
}

// source matches an IPv4 source address within p.
func source(p netip.Prefix) []expr.Any { return addr(12, p) }

// addr matches the IPv4 address at offset in the header (12 source, 16
// destination) against p.
func addr(offset uint32, p netip.Prefix) []expr.Any {
	mask := net.CIDRMask(p.Bits(), 32)
	a := p.Masked().Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	}
}

// hostAddr matches packets for ip or, when ip is invalid, for any address
// of the host's own (fib daddr type local).
func hostAddr(ip netip.Addr) []expr.Any {
	if ip.IsValid() {
		return addr(16, netip.PrefixFrom(ip, 32))
	}
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

// port matches the transport protocol proto (tcp or udp) and destination
// port p.
func port(proto string, p uint16) []expr.Any {
	l4 := byte(unix.IPPROTO_TCP)
	if proto == "udp" {
		l4 = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{l4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p)},
	}
}

// dnat sends the packet to a:p.
func dnat(a netip.Addr, p uint16) []expr.Any {
	ip := a.As4()
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: ip[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

// EnableLocalnet lets the bridge carry packets with a loopback source
// (route_localnet) in the network namespace of the calling thread, so that
// a connection to a published port on 127.0.0.1 can be sent on to the
// container.
func EnableLocalnet(bridge string) error {
	if err := os.WriteFile(filepath.Join("/proc/sys/net/ipv4/conf", bridge, "route_localnet"), []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling route_localnet on %s: %w", bridge, err)
	}
	return nil
}

// EnableForwarding turns on IPv4 forwarding in the network namespace of
// the calling thread, as Docker does when it makes a bridge network:
// without it nothing leaves a bridge for the outside.
func EnableForwarding() error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling IPv4 forwarding: %w", err)
	}
	return nil
}
