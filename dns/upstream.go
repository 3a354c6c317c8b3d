package dns

import (
	"bufio"
	"bytes"
	"net"
	"net/netip"
	"os"
	"strings"
)

// ResolvedConf is where systemd-resolved lists the servers it forwards
// to, when the host's resolv.conf names only its stub at 127.0.0.53.
const ResolvedConf = "/run/systemd/resolve/resolv.conf"

// Upstreams are the servers a resolver forwards to, as host:port: those
// the user gave (--dns), else the host's resolv.conf nameservers; when
// those are only systemd-resolved's stub, the real upstreams it lists in
// resolved (its own file), which do not depend on the stub being there.
func Upstreams(user []string, hostConf, resolved []byte) []string {
	servers := user
	if len(servers) == 0 {
		servers = Nameservers(hostConf)
		if len(servers) > 0 && onlyStub(servers) {
			if real := Nameservers(resolved); len(real) > 0 {
				servers = real
			}
		}
	}
	var out []string
	for _, s := range servers {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, net.JoinHostPort(a.WithZone("").String(), "53"))
		}
	}
	return out
}

func onlyStub(servers []string) bool {
	for _, s := range servers {
		if s != "127.0.0.53" && s != "127.0.0.54" {
			return false
		}
	}
	return true
}

// Nameservers are the nameserver lines of a resolv.conf.
func Nameservers(conf []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "nameserver" {
			out = append(out, f[1])
		}
	}
	return out
}

// ReadUpstreams is Upstreams from the host's files.
func ReadUpstreams(user []string) []string {
	host, _ := os.ReadFile("/etc/resolv.conf")
	resolved, _ := os.ReadFile(ResolvedConf)
	return Upstreams(user, host, resolved)
}
