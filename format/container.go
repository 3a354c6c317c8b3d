package format

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// Port is one port of a container as Docker's container list reports it:
// a published one (IP and PublicPort set) or one only exposed.
type Port struct {
	IP          string
	PrivatePort uint16
	PublicPort  uint16
	Type        string
}

// Ports is the PORTS column of docker ps and docker compose ps:
// "0.0.0.0:8080->80/tcp, 8000/tcp". Ports in a row, published on the same
// address to the same numbers, or only exposed, are written as one range
// (8000-8002/tcp); a port published elsewhere than its own number comes
// last, as Docker's CLI orders them.
func Ports(ports []Port) string {
	sorted := slices.Clone(ports)
	slices.SortFunc(sorted, func(a, b Port) int {
		return cmp.Or(cmp.Compare(a.PrivatePort, b.PrivatePort), cmp.Compare(a.IP, b.IP),
			cmp.Compare(a.PublicPort, b.PublicPort), cmp.Compare(a.Type, b.Type))
	})
	type group struct {
		ip, proto   string
		first, last uint16
	}
	var groups, done []group
	var mapped []string
	for _, p := range sorted {
		if p.IP != "" && p.PublicPort != p.PrivatePort {
			mapped = append(mapped, fmt.Sprintf("%s->%d/%s", net.JoinHostPort(p.IP, strconv.Itoa(int(p.PublicPort))), p.PrivatePort, p.Type))
			continue
		}
		i := slices.IndexFunc(groups, func(g group) bool { return g.ip == p.IP && g.proto == p.Type })
		switch {
		case i < 0:
			groups = append(groups, group{p.IP, p.Type, p.PrivatePort, p.PrivatePort})
		case p.PrivatePort == groups[i].last+1:
			groups[i].last = p.PrivatePort
		default:
			// a gap closes the range; the group goes on from here
			done = append(done, groups[i])
			groups[i].first, groups[i].last = p.PrivatePort, p.PrivatePort
		}
	}
	var out []string
	for _, g := range append(done, groups...) {
		r := strconv.Itoa(int(g.first))
		if g.last != g.first {
			r += "-" + strconv.Itoa(int(g.last))
		}
		if g.ip != "" {
			r = net.JoinHostPort(g.ip, r) + "->" + r
		}
		out = append(out, r+"/"+g.proto)
	}
	return strings.Join(append(out, mapped...), ", ")
}

// Command is a container's command as Docker's container list gives it:
// the path, then the arguments, those with a space in single quotes.
func Command(path string, args []string) string {
	parts := []string{path}
	for _, a := range args {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Ellipsis cuts s to n characters, the last an ellipsis, as Docker's
// tables shorten a command or a mount's name.
func Ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// QuotedCommand is the COMMAND column (and JSON field) of docker ps and
// docker compose ps: Command shortened to 20 characters unless noTrunc,
// in double quotes.
func QuotedCommand(path string, args []string, noTrunc bool) string {
	c := Command(path, args)
	if !noTrunc {
		c = Ellipsis(c, 20)
	}
	return strconv.Quote(c)
}

// Size is a container's SIZE: its writable layer, and the whole root
// when known ("2B (virtual 21.5MB)"); "0B" for a listing that did not
// measure it, as Docker's.
func Size(rw, rootfs int64) string {
	s := units.HumanSizeWithPrecision(float64(rw), 3)
	if rootfs > 0 {
		s += " (virtual " + units.HumanSizeWithPrecision(float64(rootfs), 3) + ")"
	}
	return s
}

// LogPrefix is the prefix of a container's log lines in docker compose's
// logs and attached up: its name padded to one more than the widest name
// shown, then a bar ("web-1  | ").
func LogPrefix(name string, widest int) string {
	return fmt.Sprintf("%-*s | ", widest+1, name)
}
