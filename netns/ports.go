package netns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/errclass"
	published "github.com/berth-dev/berth/netns/port"
)

// PortMapping and Binding are package port's, which records keep without
// linking the network code.
type (
	PortMapping = published.Mapping
	Binding     = published.Binding
)

// ParsePorts reads Docker's -p forms: [[IP:][HOST]:]CONTAINER[/PROTO],
// where HOST and CONTAINER may be ranges (8000-8010) and an IPv6 IP is
// written in brackets. A container range becomes one mapping per port;
// a host range must then be as long.
func ParsePorts(s string) ([]PortMapping, error) {
	bad := func(why string) error { return errclass.New(ErrInvalid, "invalid published port %q: %s", s, why) }
	spec, proto, _ := strings.Cut(s, "/")
	switch proto {
	case "":
		proto = "tcp"
	case "tcp", "udp":
	default:
		return nil, bad("the protocol must be tcp or udp")
	}
	var ipPart, hostPart, ctrPart string
	if strings.HasPrefix(spec, "[") {
		end := strings.Index(spec, "]")
		if end < 0 || !strings.HasPrefix(spec[end+1:], ":") {
			return nil, bad("an IPv6 address must be written [ADDR]:HOST:CONTAINER")
		}
		ipPart, spec = spec[1:end], spec[end+2:]
		var ok bool
		if hostPart, ctrPart, ok = strings.Cut(spec, ":"); !ok {
			return nil, bad("an address needs a host and a container port")
		}
	} else {
		parts := strings.Split(spec, ":")
		switch len(parts) {
		case 1:
			ctrPart = parts[0]
		case 2:
			hostPart, ctrPart = parts[0], parts[1]
		case 3:
			ipPart, hostPart, ctrPart = parts[0], parts[1], parts[2]
		default:
			return nil, bad("want [[IP:][HOST]:]CONTAINER[/PROTO]")
		}
	}
	var ip netip.Addr
	if ipPart != "" {
		var err error
		if ip, err = netip.ParseAddr(ipPart); err != nil {
			return nil, bad(fmt.Sprintf("%q is not an IP address", ipPart))
		}
		if !ip.Is4() {
			return nil, bad("berth publishes on IPv4 addresses only")
		}
		if ip.IsUnspecified() {
			ip = netip.Addr{}
		}
	}
	cLo, cHi, err := portRange(ctrPart)
	if err != nil || cLo == 0 {
		return nil, bad(fmt.Sprintf("container port %q is not a port or range", ctrPart))
	}
	var hLo, hHi uint16
	if hostPart != "" {
		if hLo, hHi, err = portRange(hostPart); err != nil {
			return nil, bad(fmt.Sprintf("host port %q is not a port or range", hostPart))
		}
	}
	n := cHi - cLo
	if hostPart != "" && n > 0 && hHi-hLo != n {
		return nil, bad("the host and container port ranges must be as long")
	}
	var out []PortMapping
	for i := uint16(0); i <= n; i++ {
		m := PortMapping{HostIP: ip, Port: cLo + i, Proto: proto}
		switch {
		case hLo == 0:
		case n > 0:
			m.HostPort = hLo + i
		default:
			m.HostPort = hLo
			if hHi > hLo {
				m.HostPortEnd = hHi
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// portRange reads PORT or LOW-HIGH.
func portRange(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	l, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	h := l
	if isRange {
		if h, err = strconv.ParseUint(b, 10, 16); err != nil {
			return 0, 0, err
		}
		if h < l {
			return 0, 0, errors.New("backwards range")
		}
	}
	return uint16(l), uint16(h), nil
}

// Reservation holds published host ports: a socket bound on each, so that
// no other process, berth container included, can take the port while the
// container runs, though no packet ever reaches the socket: the kernel's
// DNAT sends them to the container before any socket lookup. A TCP one
// listens, with SO_REUSEADDR, as a server on the port would: only a
// listening socket, or another reservation, keeps it from a port; a
// connection that ended there and waits out TIME-WAIT does not (without
// SO_REUSEADDR it would refuse a free port for a minute), and a listener
// cannot be joined by another process's SO_REUSEADDR socket, as a socket
// only bound could. Release closes them.
type Reservation struct{ fds []int }

// Release gives the ports back.
func (r *Reservation) Release() {
	for _, fd := range r.fds {
		unix.Close(fd)
	}
	r.fds = nil
}

// Fds are the reservation's sockets, to hand them to another process.
func (r *Reservation) Fds() []int { return r.fds }

// Reserve binds the host ports of mappings, picking free ones where asked
// to, and returns what was bound. A port that is taken fails the whole
// reservation, naming it, with nothing held.
func Reserve(mappings []PortMapping) ([]Binding, *Reservation, error) {
	r := &Reservation{}
	var out []Binding
	for _, m := range mappings {
		fd, port, err := reserveOne(m)
		if err != nil {
			r.Release()
			return nil, nil, err
		}
		r.fds = append(r.fds, fd)
		out = append(out, Binding{HostIP: m.HostIP, HostPort: port, Port: m.Port, Proto: m.Proto})
	}
	return out, r, nil
}

func reserveOne(m PortMapping) (int, uint16, error) {
	last := max(m.HostPortEnd, m.HostPort)
	var err error
	for p := m.HostPort; ; p++ {
		var fd int
		var got uint16
		if fd, got, err = bindPort(m.HostIP, p, m.Proto); err == nil {
			return fd, got, nil
		}
		if p >= last {
			break
		}
	}
	ip := "0.0.0.0"
	if m.HostIP.IsValid() {
		ip = m.HostIP.String()
	}
	if errors.Is(err, unix.EADDRINUSE) {
		return 0, 0, errclass.New(ErrConflict, "Bind for %s:%s failed: port is already allocated", ip, portText(m))
	}
	return 0, 0, fmt.Errorf("binding %s:%s/%s: %w", ip, portText(m), m.Proto, err)
}

func portText(m PortMapping) string {
	if m.HostPortEnd > m.HostPort {
		return fmt.Sprintf("%d-%d", m.HostPort, m.HostPortEnd)
	}
	return strconv.Itoa(int(m.HostPort))
}

// bindPort binds a close-on-exec socket of proto to ip:port (port 0: one
// the kernel picks) and returns it with its port.
func bindPort(ip netip.Addr, port uint16, proto string) (int, uint16, error) {
	typ := unix.SOCK_STREAM
	if proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, err
	}
	sa := &unix.SockaddrInet4{Port: int(port)}
	if ip.IsValid() {
		sa.Addr = ip.As4()
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			unix.Close(fd)
			return 0, 0, err
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return 0, 0, err
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, 1); err != nil {
			unix.Close(fd)
			return 0, 0, err
		}
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return 0, 0, err
	}
	return fd, uint16(got.(*unix.SockaddrInet4).Port), nil
}

// Published are a running container's bindings on one network: where the
// firewall sends them.
type Published struct {
	Network  string // the network's ID
	Address  netip.Addr
	Bindings []Binding
}

func (s *Store) portsPath(id string) string { return filepath.Join(s.dir, "ports", id+".json") }

// Publish records the container id's published ports and rebuilds the
// firewall so that they reach it. Unpublish undoes it.
func (s *Store) Publish(ctx context.Context, id string, p Published) error {
	unlock, err := disk.Lock(ctx, filepath.Join(s.dir, "networks.lock"), false)
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.MkdirAll(filepath.Dir(s.portsPath(id)), 0o700); err != nil {
		return err
	}
	data, _ := json.Marshal(p)
	if err := disk.WriteFile(s.portsPath(id), data, 0o600); err != nil {
		return err
	}
	if err := s.syncFirewall(ctx, ""); err != nil {
		os.Remove(s.portsPath(id))
		return err
	}
	return nil
}

// Unpublish drops the container id's published ports, if it has any.
func (s *Store) Unpublish(ctx context.Context, id string) error {
	unlock, err := disk.Lock(ctx, filepath.Join(s.dir, "networks.lock"), false)
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.Remove(s.portsPath(id)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return s.syncFirewall(ctx, "")
}

// published reads every running container's published ports, by network ID.
func (s *Store) published() map[string][]Published {
	paths, _ := filepath.Glob(filepath.Join(s.dir, "ports", "*.json"))
	out := map[string][]Published{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var pub Published
		if json.Unmarshal(data, &pub) == nil {
			out[pub.Network] = append(out[pub.Network], pub)
		}
	}
	return out
}
