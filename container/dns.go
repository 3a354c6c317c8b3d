package container

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"

	"github.com/berth-dev/berth/dns"
	"github.com/berth-dev/berth/netns"
)

// dnsDir holds the resolvers' entries: who is on which network, by what
// names, while running.
func dnsDir(root string) string { return filepath.Join(RunDir(root), "dns") }

// dnsNames are the names a container answers to on network, as in Docker:
// its name, short ID, hostname and the aliases it has there.
func dnsNames(rec Record, network string) []string {
	names := []string{rec.Name, rec.ID[:12]}
	if h := rec.Config.Hostname; h != "" && !slices.Contains(names, h) {
		names = append(names, h)
	}
	return append(names, rec.Host.Aliases[network]...)
}

// serveDNS starts the container's resolver: UDP and TCP sockets on
// 127.0.0.11 inside its network namespace (at path) on ports of their own,
// with 127.0.0.11:53 redirected to them there, served from the monitor.
// The returned function stops it; the namespace's rules go with the
// namespace.
func serveDNS(ctx context.Context, root string, rec Record, path string) (stop func(), err error) {
	table, err := dns.OpenTable(dnsDir(root))
	if err != nil {
		return nil, err
	}
	var pc net.PacketConn
	var ln net.Listener
	addr := net.JoinHostPort(netns.DNSAddress.String(), "0")
	err = netns.Do(path, func() error {
		var err error
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			pc.Close()
		}
		return err
	})
	if err != nil {
		table.Close()
		return nil, fmt.Errorf("opening the DNS resolver's sockets: %w", err)
	}
	udp, tcp := pc.LocalAddr().(*net.UDPAddr).Port, ln.Addr().(*net.TCPAddr).Port
	if err := netns.RedirectDNS(path, uint16(udp), uint16(tcp)); err != nil {
		pc.Close()
		ln.Close()
		table.Close()
		return nil, err
	}
	r := &dns.Resolver{Table: table, Self: rec.ID, Upstreams: dns.ReadUpstreams(rec.Host.DNS), Links: linkAliases(rec)}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		dns.Serve(sctx, pc, ln, r)
		close(done)
	}()
	return func() {
		cancel()
		<-done
		table.Close()
	}, nil
}
