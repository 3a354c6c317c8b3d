package record

import (
	"cmp"
	"net/netip"
	"time"

	"github.com/berth-dev/berth/netns/port"
	"github.com/berth-dev/berth/runtime/spec"
)

// Record is what a container is, fixed when it is created.
type Record struct {
	ID      string
	Name    string
	Image   string // as the user named it
	ImageID string // the image's config digest
	Created time.Time
	// Path and Args are the command as Docker shows it (entrypoint and cmd
	// joined).
	Path string
	Args []string
	// Spec is what the runtime gets; its rootfs lowers are the image's
	// snapshots.
	Spec   spec.Spec
	Config Config
	Host   HostConfig
	// Health is how its health is probed; nil: not at all.
	Health *Healthcheck `json:",omitempty"`
	// Volumes are the volumes its mounts use; anonymous ones go with it
	// (rm -v, run --rm).
	Volumes []Volume
	// Warnings are what Create changed or dropped of what was asked, as
	// Docker's create answers them (a limit this host's cgroups cannot
	// enforce); the caller shows them. Not kept.
	Warnings []string `json:"-"`
}

// FQDN is the container's full host name, hostname.domainname.
func (c Config) FQDN() string {
	if c.Domainname == "" {
		return c.Hostname
	}
	return c.Hostname + "." + c.Domainname
}

// Config is the part of Docker's container config berth keeps for inspect.
type Config struct {
	Hostname   string
	Domainname string `json:",omitempty"`
	User       string
	Env        []string
	Cmd        []string
	Entrypoint []string
	WorkingDir string
	Labels     map[string]string
	StopSignal string
	Tty        bool
	OpenStdin  bool
	// ExposedPorts are the ports it exposes ("8000/tcp"): the image's,
	// --expose's (compose's expose) and those it publishes, as in Docker.
	ExposedPorts []string `json:",omitempty"`
}

// HostConfig is how the container runs on this host.
type HostConfig struct {
	AutoRemove    bool
	Init          bool
	RestartPolicy RestartPolicy
	StopTimeout   int // seconds; 0 means Docker's 10
	LogMaxSize    int64
	LogMaxFile    int
	// Networks are the networks the container joins each time it starts,
	// in order (eth0 first); none means loopback only.
	Networks []string `json:",omitempty"`
	// Aliases are more names the container has on a network
	// (--network-alias, connect --alias, a compose service's name).
	Aliases map[string][]string `json:",omitempty"`
	// Links are NAME:ALIAS pairs (--link): ALIAS names container NAME for
	// this container alone.
	Links []string `json:",omitempty"`
	// NetworkContainer is the ID of the container whose network namespace
	// this one joins (--network container:NAME).
	NetworkContainer string `json:",omitempty"`
	// HostNetwork shares the host's network namespace (--network host).
	HostNetwork bool `json:",omitempty"`
	// PidMode, IpcMode and UTSMode are --pid, --ipc and --uts, another
	// container named by ID (container:ID); see Namespaces.
	PidMode string `json:",omitempty"`
	IpcMode string `json:",omitempty"`
	UTSMode string `json:",omitempty"`
	// MacAddress is the first network's interface's MAC (--mac-address);
	// empty is Docker's, from the address.
	MacAddress string `json:",omitempty"`
	// IPv4Address is the static address on the first network (--ip).
	IPv4Address netip.Addr `json:",omitzero"`
	// Endpoints are settings by network, for any network (compose's
	// ipv4_address, mac_address and interface_name; network connect
	// --ip): what it is joined with at each start. For the first network
	// IPv4Address and MacAddress stand in for what they do not set.
	Endpoints map[string]EndpointSettings `json:",omitempty"`
	// ExtraHosts are --add-host's NAME:IP entries.
	ExtraHosts []string `json:",omitempty"`
	// GroupAdd are --group-add's groups (names or IDs): every process of
	// the container, execs included, has them, as in Docker.
	GroupAdd []string `json:",omitempty"`
	// DNS, DNSSearch and DNSOptions are --dns, --dns-search, --dns-option.
	DNS        []string `json:",omitempty"`
	DNSSearch  []string `json:",omitempty"`
	DNSOptions []string `json:",omitempty"`
	// Ports are the published ports (-p, -P), taken at each start.
	Ports []port.Mapping `json:",omitempty"`
	// PublishAll is -P: Ports then includes every exposed port.
	PublishAll bool `json:",omitempty"`
}

// Volume is a volume a container's mounts use (volumes.Used, which
// package record does not link).
type Volume struct {
	Name      string
	Target    string
	Anonymous bool
}

// RestartPolicy is Docker's: no, always, unless-stopped, on-failure[:N].
type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

// EndpointSettings are how a container joins one network; zero values are
// the network's choice (an address from its pool, a MAC from the address,
// ethN in order).
type EndpointSettings struct {
	IPv4Address   netip.Addr `json:",omitzero"`
	MacAddress    string     `json:",omitempty"`
	InterfaceName string     `json:",omitempty"`
	// GatewayPriority picks the network whose gateway is the default
	// route: the highest, the first network among equals (gw_priority).
	GatewayPriority int `json:",omitempty"`
}

// GatewayNetwork is the index of the network that gives the default
// route: the first of those with the highest gateway priority.
func (h HostConfig) GatewayNetwork() int {
	best := 0
	for i, n := range h.Networks {
		if h.Endpoints[n].GatewayPriority > h.Endpoints[h.Networks[best]].GatewayPriority {
			best = i
		}
	}
	return best
}

// Endpoint is how the container joins network, its index-th.
func (h HostConfig) Endpoint(network string, index int) EndpointSettings {
	es := h.Endpoints[network]
	if index == 0 {
		if !es.IPv4Address.IsValid() {
			es.IPv4Address = h.IPv4Address
		}
		es.MacAddress = cmp.Or(es.MacAddress, h.MacAddress)
	}
	return es
}
