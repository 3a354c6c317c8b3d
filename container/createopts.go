package container

import (
	"cmp"
	"net/netip"
	"path"
	"strings"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/netns"
)

// The typed forms of the settings Docker's CLI writes as strings. The
// CLI's flags are parsed into them here (Parse*), the compose converter
// builds them from compose's own types, and Create takes them as they
// are: nothing is written as a Docker-CLI string to be parsed again.

// Link is --link NAME[:ALIAS] (compose's links and external_links): the
// alias resolves to the container NAME for this container only.
type Link struct {
	Name string
	// Alias is the name the container is known by here; empty, its own.
	Alias string
}

// ParseLink reads --link NAME[:ALIAS], as Docker's CLI does.
func ParseLink(s string) (Link, error) {
	if s == "" {
		return Link{}, errclass.New(ErrInvalid, "empty string specified for links")
	}
	parts := strings.SplitN(s, ":", 3)
	switch {
	case len(parts) > 2:
		return Link{}, errclass.New(ErrInvalid, "bad format for links: %s", s)
	case len(parts) == 1:
		return Link{Name: s}, nil
	case strings.HasPrefix(parts[0], "/"):
		// inspect's form, /NAME:/SELF/ALIAS, as Docker takes it back
		_, alias := path.Split(parts[1])
		return Link{Name: parts[0][1:], Alias: alias}, nil
	}
	return Link{Name: parts[0], Alias: parts[1]}, nil
}

// VolumeFrom is --volumes-from NAME[:ro|rw] (compose's volumes_from): the
// container's volumes and binds, mounted at the same places.
type VolumeFrom struct {
	Container string
	// Mode is "ro" or "rw" for every mount; empty keeps each one's own.
	Mode string
}

// ParseVolumeFrom reads --volumes-from NAME[:ro|rw].
func ParseVolumeFrom(s string) (VolumeFrom, error) {
	name, mode, _ := strings.Cut(s, ":")
	v := VolumeFrom{Container: name, Mode: mode}
	return v, v.check()
}

func (v VolumeFrom) check() error {
	if v.Container == "" {
		return errclass.New(ErrInvalid, "volumes-from specification cannot be an empty string")
	}
	if v.Mode != "" && v.Mode != "ro" && v.Mode != "rw" {
		return errclass.New(ErrInvalid, "invalid --volumes-from %q: the mode must be ro or rw", v.Container+":"+v.Mode)
	}
	return nil
}

// ExtraHost is an --add-host entry (compose's extra_hosts): NAME at IP in
// /etc/hosts, or at the first network's gateway (host-gateway).
type ExtraHost struct {
	Name string
	IP   netip.Addr
	// Gateway stands for the host, as seen from the container.
	Gateway bool
}

// ParseAddHost reads an --add-host value, NAME:IP or NAME=IP, the IP
// possibly in brackets, or host-gateway.
func ParseAddHost(s string) (ExtraHost, error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	if !ok || name == "" {
		return ExtraHost{}, errclass.New(ErrInvalid, "bad format for add-host: %q", s)
	}
	return HostEntry(name, ip)
}

// HostEntry is the extra host name at ip, an address or host-gateway.
func HostEntry(name, ip string) (ExtraHost, error) {
	if ip == monitor.HostGateway {
		return ExtraHost{Name: name, Gateway: true}, nil
	}
	addr, err := netip.ParseAddr(strings.Trim(ip, "[]"))
	if err != nil {
		return ExtraHost{}, errclass.New(ErrInvalid, "invalid IP address in add-host: %q", ip)
	}
	return ExtraHost{Name: name, IP: addr}, nil
}

// String is the record's NAME:IP form.
func (h ExtraHost) String() string {
	if h.Gateway {
		return h.Name + ":" + monitor.HostGateway
	}
	return h.Name + ":" + h.IP.String()
}

// NamespaceMode is how a container has its PID or IPC namespace: Mode ""
// (its own), host, or for IPC private, shareable or none; or another
// container's, by name or ID (container:NAME).
type NamespaceMode struct {
	Mode      string
	Container string
}

// ParseNamespaceMode reads --pid or --ipc.
func ParseNamespaceMode(s string) NamespaceMode {
	if name, ok := strings.CutPrefix(s, "container:"); ok && name != "" {
		return NamespaceMode{Container: name}
	}
	return NamespaceMode{Mode: s}
}

// String is Docker's form, container:NAME for another container's.
func (n NamespaceMode) String() string {
	if n.Container != "" {
		return "container:" + n.Container
	}
	return n.Mode
}

// ParseExpose reads --expose PORT[/PROTO] or a range (8000-8010/udp), as
// Docker's image ExposedPorts are written too.
func ParseExpose(s string) ([]netns.PortMapping, error) {
	ms, err := netns.ParsePorts(s)
	if err != nil || strings.Contains(s, ":") {
		return nil, errclass.New(ErrInvalid, "invalid exposed port %q: want PORT[/PROTO] or a range", s)
	}
	return ms, nil
}

// record is the record's NAME:ALIAS of the link, to the container name.
func (l Link) record(name string) string {
	return name + ":" + cmp.Or(l.Alias, name)
}
