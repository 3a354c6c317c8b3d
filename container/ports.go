package container

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
)

// exposedPorts turns the image's ExposedPorts ("80/tcp") and --expose
// values ("80", "8000-8010/udp") into the mappings -P publishes: each on
// a free host port.
func exposedPorts(image map[string]struct{}, expose []string) ([]netns.PortMapping, error) {
	var out []netns.PortMapping
	for _, p := range append(sortedKeys(image), expose...) {
		ms, err := netns.ParsePorts(p)
		if err != nil || strings.Contains(p, ":") {
			return nil, errclass.New(ErrInvalid, "invalid exposed port %q: want PORT[/PROTO] or a range", p)
		}
		out = append(out, ms...)
	}
	return out, nil
}

// withPublishAll adds to ports every exposed port that no mapping
// publishes yet, on a free host port.
func withPublishAll(ports, exposed []netns.PortMapping) []netns.PortMapping {
	for _, e := range exposed {
		if !slices.ContainsFunc(ports, func(m netns.PortMapping) bool { return m.Port == e.Port && m.Proto == e.Proto }) {
			ports = append(ports, e)
		}
	}
	return ports
}

// exposedList is a container's exposed ports ("80/tcp"), sorted: those of
// exposed and every port that ports publishes.
func exposedList(exposed, ports []netns.PortMapping) []string {
	var out []string
	for _, m := range append(slices.Clone(exposed), ports...) {
		p := fmt.Sprintf("%d/%s", m.Port, m.Proto)
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// checkPorts refuses, before a container is made, host ports that are
// already taken, by taking them for a moment.
func checkPorts(ports []netns.PortMapping) error {
	_, r, err := netns.Reserve(ports)
	if err != nil {
		return err
	}
	r.Release()
	return nil
}

// publish takes the container's host ports and sends them to its address
// on the first of its networks that reaches the outside; it returns the
// bindings, the reservation that holds the ports, and what gives them up
// again. A container whose networks are all internal publishes nothing, as
// in Docker.
func publish(ctx context.Context, root string, rec record.Record, eps map[string]record.Endpoint) ([]netns.Binding, *netns.Reservation, func(), error) {
	if len(rec.Host.Ports) == 0 || len(eps) == 0 {
		return nil, nil, func() {}, nil
	}
	s, done, err := networkStore(root)
	if err != nil {
		return nil, nil, nil, err
	}
	defer done()
	var target record.Endpoint
	for _, name := range rec.Host.Networks {
		if n, err := s.Get(name); err == nil && !n.Internal {
			target = eps[name]
			break
		}
	}
	if target.NetworkID == "" {
		return nil, nil, func() {}, nil
	}
	bindings, res, err := netns.Reserve(rec.Host.Ports)
	if err != nil {
		return nil, nil, nil, err
	}
	pub := netns.Published{Network: target.NetworkID, Address: target.Address.Addr(), Bindings: bindings}
	if err := s.Publish(ctx, rec.ID, pub); err != nil {
		res.Release()
		return nil, nil, nil, fmt.Errorf("publishing ports: %w", err)
	}
	return bindings, res, func() {
		if s, done, err := networkStore(root); err == nil {
			s.Unpublish(context.WithoutCancel(ctx), rec.ID)
			done()
		}
		res.Release()
	}, nil
}

// PortLines are `docker port`'s lines for the container's running
// bindings ("80/tcp -> 0.0.0.0:8080"), only those of the container port
// (PORT[/PROTO]) when one is given.
func PortLines(st record.State, port string) ([]string, error) {
	want, proto, _ := strings.Cut(port, "/")
	if port != "" {
		if _, err := strconv.ParseUint(want, 10, 16); err != nil {
			return nil, errclass.New(ErrInvalid, "invalid port %q: want PORT[/PROTO]", port)
		}
	}
	var out []string
	for _, b := range st.Ports {
		if port != "" && (strconv.Itoa(int(b.Port)) != want || proto != "" && proto != b.Proto) {
			continue
		}
		if port != "" {
			out = append(out, b.HostAddr())
		} else {
			out = append(out, fmt.Sprintf("%d/%s -> %s", b.Port, b.Proto, b.HostAddr()))
		}
	}
	if port != "" && len(out) == 0 {
		return nil, errclass.New(ErrNotFound, "no public port '%s' published", port)
	}
	return out, nil
}
