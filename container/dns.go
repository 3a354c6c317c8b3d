package container

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"

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
	var pcs []net.PacketConn
	var ln net.Listener
	// one UDP socket per core on one port: the kernel spreads the queries
	// over them (SO_REUSEPORT), and each has its own reading goroutine
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return serr
	}}
	err = netns.Do(path, func() error {
		addr := net.JoinHostPort(netns.DNSAddress.String(), "0")
		for range max(1, goruntime.NumCPU()) {
			pc, err := lc.ListenPacket(context.Background(), "udp", addr)
			if err != nil {
				for _, pc := range pcs {
					pc.Close()
				}
				return err
			}
			pcs = append(pcs, pc)
			addr = pc.LocalAddr().String() // the others on the first one's port
		}
		var err error
		if ln, err = net.Listen("tcp", net.JoinHostPort(netns.DNSAddress.String(), "0")); err != nil {
			for _, pc := range pcs {
				pc.Close()
			}
		}
		return err
	})
	if err != nil {
		table.Close()
		return nil, fmt.Errorf("opening the DNS resolver's sockets: %w", err)
	}
	udp, tcp := pcs[0].LocalAddr().(*net.UDPAddr).Port, ln.Addr().(*net.TCPAddr).Port
	if err := netns.RedirectDNS(path, uint16(udp), uint16(tcp)); err != nil {
		for _, pc := range pcs {
			pc.Close()
		}
		ln.Close()
		table.Close()
		return nil, err
	}
	r := &dns.Resolver{Table: table, Self: rec.ID, Upstreams: dns.ReadUpstreams(rec.Host.DNS), Links: linkAliases(rec)}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		dns.Serve(sctx, pcs, ln, r)
		close(done)
	}()
	return func() {
		cancel()
		<-done
		table.Close()
	}, nil
}
