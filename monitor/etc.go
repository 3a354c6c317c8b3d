package monitor

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
)

// WriteEtc writes the container's /etc/hosts, /etc/hostname and
// /etc/resolv.conf, which it gets bind-mounted, as Docker does. The hosts
// file names the container by 127.0.1.1 until it starts on a network, when
// the monitor writes both files again (see runOnce).
func WriteEtc(dir string, rec *record.Record) error {
	files := map[string]string{
		"hosts":       hostsFile(rec.Config.FQDN(), "127.0.1.1", rec.Host.ExtraHosts, netip.Addr{}),
		"hostname":    rec.Config.Hostname + "\n",
		"resolv.conf": resolvConf(hostResolvConf(), rec.Host, hostDNS),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// hostsFile is Docker's /etc/hosts for a container whose own name is addr:
// the defaults, the user's extra NAME:IP entries (host-gateway standing for
// gateway, left out while there is none), then the container itself, by
// its full name (hostname.domainname) and its bare one.
func hostsFile(fqdn, addr string, extra []string, gateway netip.Addr) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	for _, e := range extra {
		name, ip, _ := strings.Cut(e, ":")
		if ip == HostGateway {
			if !gateway.IsValid() {
				continue
			}
			ip = gateway.String()
		}
		b.WriteString(ip + "\t" + name + "\n")
	}
	names := fqdn
	if bare, _, ok := strings.Cut(fqdn, "."); ok {
		names += " " + bare
	}
	b.WriteString(addr + "\t" + names + "\n")
	return b.String()
}

// HostGateway is the --add-host address that stands for the host, as
// seen from the container: its first network's gateway.
const HostGateway = "host-gateway"

// fallbackDNS are the nameservers Docker gives a container on a bridge
// network when the host's are all on loopback, which the container's own
// loopback cannot reach.
var fallbackDNS = []string{"8.8.8.8", "8.8.4.4"}

// hostResolvConf is the host's /etc/resolv.conf; none is an empty one.
func hostResolvConf() []byte {
	data, _ := os.ReadFile("/etc/resolv.conf")
	return data
}

// dnsMode is where a container's resolv.conf sends it.
type dnsMode int

const (
	// hostDNS: the host's nameservers as they are (the host's network, or
	// loopback only).
	hostDNS dnsMode = iota
	// bridgeDNS: the host's nameservers that a container on a bridge can
	// reach (the default bridge network).
	bridgeDNS
	// embeddedDNS: berth's resolver at 127.0.0.11 (user-defined networks),
	// which forwards to the host's or the user's nameservers itself.
	embeddedDNS
)

// resolvConf is the container's /etc/resolv.conf: the host's nameservers,
// search domains and options, each replaced by the user's when given.
// With bridgeDNS the container has a network namespace of its own and
// cannot reach the host's loopback, so loopback nameservers (such as
// systemd-resolved's 127.0.0.53) are dropped and, if none is left, Docker's
// fallbacks are used. With embeddedDNS the one nameserver is 127.0.0.11
// and, as in Docker, ndots is 0 unless the user set it, so that a service
// name is never first tried with the host's search domains.
func resolvConf(host []byte, h record.HostConfig, mode dnsMode) string {
	var servers, search, options []string
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			servers = append(servers, fields[1])
		case "search":
			search = fields[1:]
		case "options":
			options = fields[1:]
		}
	}
	if mode == embeddedDNS {
		servers = []string{netns.DNSAddress.String()}
	} else if len(h.DNS) > 0 {
		servers = h.DNS
	} else if mode == bridgeDNS {
		var reachable []string
		for _, s := range servers {
			if addr, err := netip.ParseAddr(s); err == nil && !addr.IsLoopback() {
				reachable = append(reachable, s)
			}
		}
		servers = reachable
		if len(servers) == 0 {
			servers = fallbackDNS
		}
	}
	if len(h.DNSSearch) > 0 {
		search = h.DNSSearch
		if len(search) == 1 && search[0] == "." {
			search = nil // Docker's way to ask for no search domain
		}
	}
	if len(h.DNSOptions) > 0 {
		options = h.DNSOptions
	}
	if mode == embeddedDNS && !slices.ContainsFunc(options, func(o string) bool { return strings.HasPrefix(o, "ndots:") }) {
		options = append([]string{"ndots:0"}, options...)
	}
	var b strings.Builder
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return b.String()
}
