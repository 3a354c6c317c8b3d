package port

import (
	"fmt"
	"net/netip"
)

// Mapping is one published port as the user asked for it (-p, compose
// ports): a host address and port, or range of ports, for a container
// port. HostPort 0 asks for a free port the kernel picks; a host range
// whose container side is one port asks for any free port of the range.
type Mapping struct {
	HostIP      netip.Addr `json:",omitzero"` // invalid: every address of the host
	HostPort    uint16     `json:",omitempty"`
	HostPortEnd uint16     `json:",omitempty"` // > HostPort for a range
	Port        uint16     // the container's
	Proto       string     // tcp or udp
}

// Binding is a published port once its host port is known: what `port`
// and `ps` show and what the firewall DNATs.
type Binding struct {
	HostIP   netip.Addr `json:",omitzero"`
	HostPort uint16
	Port     uint16
	Proto    string
}

// String is Docker's form of a binding in `ps`: 0.0.0.0:8080->80/tcp.
func (b Binding) String() string {
	return fmt.Sprintf("%s->%d/%s", b.HostAddr(), b.Port, b.Proto)
}

// HostAddr is the host side as Docker prints it: 0.0.0.0:8080.
func (b Binding) HostAddr() string {
	ip := "0.0.0.0"
	if b.HostIP.IsValid() {
		ip = b.HostIP.String()
	}
	return netip.AddrPortFrom(netip.MustParseAddr(ip), b.HostPort).String()
}
