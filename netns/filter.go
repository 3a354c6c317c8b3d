package netns

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/google/nftables"
)

// Why berth writes into iptables' filter table at all: netfilter runs every
// base chain hooked at forward, of every table, and a packet that any one of
// them drops is gone, whatever another table's chain said of it. Docker
// sets the policy of iptables' FORWARD chain to DROP (and loads
// br_netfilter, so that even packets bridged between two containers on one
// bridge meet that chain), and so do ufw and other firewalls that filter
// forwarded traffic. An accept in berth's own nftables table cannot undo
// that drop: only a rule in that very chain can. So berth keeps, next to
// its table, one chain of its own in the filter table of each iptables that
// the host uses, jumped to from FORWARD, with narrow accepts for its own
// bridges only, as libvirt and podman do: traffic within a bridge, traffic
// from a network's subnet leaving by its bridge, and replies and
// published-port (DNAT) connections coming back to it. The host's policy is
// never changed, no other interface is opened, and berth's own table still
// drops what must not pass (between two berth networks, in and out of an
// internal network), since a drop anywhere wins.

// Filter is where berth keeps its accept rules in the host's iptables: the
// iptables programs (iptables-nft, iptables-legacy, or a plain iptables)
// whose filter table the host uses. The zero Filter keeps none.
type Filter struct {
	Programs []string
}

// HostFilter finds the iptables of the calling thread's network namespace
// that berth must keep its chain in: iptables-nft when nftables has an ip
// filter table (as iptables-nft makes it), iptables-legacy when the
// kernel's legacy filter table is loaded, and a plain iptables for either
// where only that is installed. A host that uses neither filters nothing
// that berth's own table does not see, and gets no chain: berth never makes
// the filter table itself. conn is the nftables connection of that
// namespace.
func HostFilter(conn *nftables.Conn) Filter {
	var f Filter
	nftFilter := false
	if conn != nil {
		if tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4); err == nil {
			nftFilter = slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == "filter" })
		}
	}
	legacyFilter := false
	if names, err := os.ReadFile("/proc/thread-self/net/ip_tables_names"); err == nil {
		legacyFilter = slices.Contains(strings.Fields(string(names)), "filter")
	}
	have := func(p string) bool { _, err := exec.LookPath(p); return err == nil }
	if nftFilter && have("iptables-nft") {
		f.Programs = append(f.Programs, "iptables-nft")
		nftFilter = false
	}
	if legacyFilter && have("iptables-legacy") {
		f.Programs = append(f.Programs, "iptables-legacy")
		legacyFilter = false
	}
	if (nftFilter || legacyFilter) && have("iptables") {
		f.Programs = append(f.Programs, "iptables")
	}
	return f
}

// filterRules are the rules of berth's chain for rules' networks, in the
// form iptables-restore reads, and the mark that names them: a rule that
// changes nothing (the chain's end returns anyway), whose comment is their
// hash, written as iptables -S prints it back.
func filterRules(chain string, rules []Rule) (want []string, mark string) {
	var out []string
	for _, r := range rules {
		b := r.Bridge
		out = append(out, fmt.Sprintf("-A %s -i %s -o %s -j ACCEPT", chain, b, b))
		if r.Internal {
			continue
		}
		s := r.Subnet.Masked().String()
		out = append(out,
			fmt.Sprintf("-A %s -s %s -i %s -j ACCEPT", chain, s, b),
			fmt.Sprintf("-A %s -d %s -o %s -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT", chain, s, b))
	}
	sum := sha256.Sum256([]byte(strings.Join(out, "\n")))
	return out, fmt.Sprintf("-A %s -m comment --comment \"berth %s\" -j RETURN", chain, hex.EncodeToString(sum[:8]))
}

// Sync makes berth's chain (named chain, in the filter table of each of
// f's programs) say what rules ask for, and FORWARD jump to it; with no
// rules the chain and the jump go. What is already as asked is left alone:
// a mark on the chain's last rule names the hash of its rules, so checking
// costs one listing per program (Holds). Each change is one
// iptables-restore, which the kernel applies at once: there is no moment
// without the rules.
func (f Filter) Sync(ctx context.Context, chain string, rules []Rule) error {
	want, mark := filterRules(chain, rules)
	var errs []error
	for _, p := range f.Programs {
		st, err := chainState(ctx, p, chain, mark)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var in bytes.Buffer
		fmt.Fprintln(&in, "*filter")
		switch {
		case len(rules) == 0:
			if !st.there && st.jumps == 0 {
				continue
			}
			for ; st.jumps > 0; st.jumps-- {
				fmt.Fprintf(&in, "-D FORWARD -j %s\n", chain)
			}
			if st.there {
				fmt.Fprintf(&in, "-F %s\n-X %s\n", chain, chain)
			}
		case st.marked && st.jumps == 1:
			continue
		default:
			// with --noflush, declaring a chain that exists empties it
			fmt.Fprintf(&in, ":%s - [0:0]\n", chain)
			for _, r := range want {
				fmt.Fprintln(&in, r)
			}
			fmt.Fprintln(&in, mark)
			if st.jumps == 0 {
				fmt.Fprintf(&in, "-I FORWARD 1 -j %s\n", chain)
			}
			for ; st.jumps > 1; st.jumps-- {
				fmt.Fprintf(&in, "-D FORWARD -j %s\n", chain)
			}
		}
		fmt.Fprintln(&in, "COMMIT")
		if _, err := run(ctx, p+"-restore", &in, "-w", "5", "--noflush"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Holds reports whether every program's filter table has berth's chain as
// rules ask for it, and one jump to it from FORWARD.
func (f Filter) Holds(ctx context.Context, chain string, rules []Rule) bool {
	_, mark := filterRules(chain, rules)
	for _, p := range f.Programs {
		if st, err := chainState(ctx, p, chain, mark); err != nil || !st.marked || st.jumps != 1 {
			return false
		}
	}
	return true
}

// state is what one filter table has of berth's chain.
type state struct {
	jumps         int  // jumps to it from FORWARD
	there, marked bool // the chain is there; its rules are those of the mark
}

// chainState lists program's filter table.
func chainState(ctx context.Context, program, chain, mark string) (state, error) {
	lines, err := run(ctx, program, nil, "-w", "5", "-t", "filter", "-S")
	if err != nil {
		return state{}, err
	}
	var st state
	for _, line := range lines {
		switch line {
		case "-A FORWARD -j " + chain:
			st.jumps++
		case "-N " + chain:
			st.there = true
		case mark:
			st.marked = true
		}
	}
	return st, nil
}

// run runs program with args and stdin, and returns the lines it
// printed; its error names what it said.
func run(ctx context.Context, program string, stdin *bytes.Buffer, args ...string) ([]string, error) {
	cmd := exec.CommandContext(ctx, program, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("keeping berth's rules in the host's filter table (%s): %s", program, cmp.Or(strings.TrimSpace(errb.String()), err.Error()))
	}
	var lines []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, nil
}
