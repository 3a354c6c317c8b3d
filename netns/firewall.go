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

// Rule is what the firewall needs of one network.
type Rule struct {
	Bridge   string
	Subnet   netip.Prefix
	Internal bool
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
	for _, r := range rules {
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
func source(p netip.Prefix) []expr.Any {
	mask := net.CIDRMask(p.Bits(), 32)
	addr := p.Masked().Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr[:]},
	}
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

// EnableForwarding turns on IPv4 forwarding in the network namespace of
// the calling thread, as Docker does when it makes a bridge network:
// without it nothing leaves a bridge for the outside.
func EnableForwarding() error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling IPv4 forwarding: %w", err)
	}
	return nil
}
