package monitor

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
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/shim"
)

// DNSDir holds the resolvers' entries: who is on which network, by what
// names, while running.
func DNSDir(root string) string { return filepath.Join(RunDir(root), "dns") }

// DNSNames are the names a container answers to on network, as in Docker:
// its name, short ID, hostname and the aliases it has there.
func DNSNames(rec record.Record, network string) []string {
	names := []string{rec.Name, rec.ID[:12]}
	if h := rec.Config.Hostname; h != "" && !slices.Contains(names, h) {
		names = append(names, h)
	}
	return append(names, rec.Host.Aliases[network]...)
}

// resolverSockets are a container's resolver, ready to serve: its sockets
// on 127.0.0.11 inside the container's network namespace, and what it
// answers from. The monitor's waiting (package shim) serves them.
type resolverSockets struct {
	pcs []net.PacketConn
	ln  net.Listener
	r   *dns.Resolver
}

// openDNS readies the container's resolver: UDP and TCP sockets on
// 127.0.0.11 inside its network namespace (at path) on ports of their own,
// with 127.0.0.11:53 redirected to them there. The namespace's rules go
// with the namespace.
func openDNS(root string, rec record.Record, path string) (*resolverSockets, error) {
	table, err := dns.OpenTable(DNSDir(root))
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
	d := &resolverSockets{pcs: pcs, ln: ln, r: &dns.Resolver{Table: table, Self: rec.ID, Upstreams: dns.ReadUpstreams(rec.Host.DNS), Links: linkAliases(rec)}}
	udp, tcp := pcs[0].LocalAddr().(*net.UDPAddr).Port, ln.Addr().(*net.TCPAddr).Port
	if err := netns.RedirectDNS(path, uint16(udp), uint16(tcp)); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *resolverSockets) close() {
	for _, pc := range d.pcs {
		pc.Close()
	}
	d.ln.Close()
	d.r.Table.Close()
}

// handoff describes the resolver for the waiting process, with copies of
// its sockets, which it serves.
func (d *resolverSockets) handoff(root string) *shim.DNS {
	h := &shim.DNS{TCP: socketFd(d.ln), Table: DNSDir(root), Self: d.r.Self, Upstreams: d.r.Upstreams, Links: d.r.Links}
	for _, pc := range d.pcs {
		h.UDP = append(h.UDP, socketFd(pc))
	}
	return h
}
