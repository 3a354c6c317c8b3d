package container

import (
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
