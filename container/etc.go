package container

import (
	"net/netip"
	"strings"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/monitor"
)

// ParseExtraHost reads an --add-host value, NAME:IP or NAME=IP, into
// NAME:IP form.
func ParseExtraHost(s string) (string, error) {
	name, ip, ok := strings.Cut(s, "=")
	if !ok {
		name, ip, ok = strings.Cut(s, ":")
	}
	if !ok || name == "" {
		return "", errclass.New(ErrInvalid, "bad format for add-host: %q", s)
	}
	if ip != monitor.HostGateway {
		addr, err := netip.ParseAddr(strings.Trim(ip, "[]"))
		if err != nil {
			return "", errclass.New(ErrInvalid, "invalid IP address in add-host: %q", ip)
		}
		ip = addr.String()
	}
	return name + ":" + ip, nil
}
