package container

import (
	"cmp"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/runtime"
)

// Validate is every check of the options that needs nothing but them:
// ranges, modes, and settings that conflict. Both the CLI's flags and the
// compose converter end here (Create calls it first, so nothing skips
// it), so that a setting is accepted or refused alike from either, with
// Docker's words. What needs the machine (another container, a network,
// the image) Create checks as it resolves it.
func (o *CreateOptions) Validate() error {
	bad := func(format string, args ...any) error { return errclass.New(ErrInvalid, format, args...) }
	if o.AutoRemove && o.Restart.Name != "no" && o.Restart.Name != "" {
		return bad("conflicting options: cannot specify both --restart and --rm")
	}
	switch o.Restart.Name {
	case "", "no", "always", "unless-stopped", "on-failure":
	default:
		return bad("invalid restart policy %q", o.Restart.Name)
	}
	if o.Restart.MaximumRetryCount < 0 || o.Restart.MaximumRetryCount > 0 && o.Restart.Name != "on-failure" {
		return bad("invalid restart policy %q: maximum retry count can only be used with 'on-failure' and must be positive", o.Restart.Name)
	}
	modes := 0
	for _, on := range []bool{o.HostNetwork, o.NoNetwork, o.NetworkContainer != ""} {
		if on {
			modes++
		}
	}
	if modes > 1 || modes == 1 && len(o.Networks) > 0 {
		return bad("conflicting options: host, none and container network modes cannot be combined with other networks")
	}
	if o.NetworkContainer != "" && (len(o.Ports) > 0 || o.PublishAll || o.Hostname != "" || len(o.DNS) > 0 || len(o.ExtraHosts) > 0 || len(o.Aliases) > 0 || o.IP.IsValid()) {
		return bad("conflicting options: --network container:%s shares that container's network, so it takes no networks, ports, hostname, DNS, hosts or aliases of its own", o.NetworkContainer)
	}
	if len(o.Links) > 0 && (o.HostNetwork || o.NetworkContainer != "") {
		return bad("conflicting options: links are not supported with host or container networking")
	}
	// with none of these the container joins the default network
	noNetwork := o.HostNetwork || o.NoNetwork || o.NetworkContainer != ""
	if len(o.Aliases) > 0 && noNetwork {
		return bad("network-scoped aliases are only supported for user-defined networks")
	}
	if o.MacAddress != "" && noNetwork {
		return bad("--mac-address needs a network")
	}
	if len(o.Ports) > 0 && o.NoNetwork {
		return bad("publishing ports needs a network: --network none has none")
	}
	if o.IP.IsValid() && !o.IP.Is4() {
		return bad("invalid IPv4 address: %s", o.IP)
	}
	if err := o.Resources.Check(); err != nil {
		return errclass.Wrap(ErrInvalid, err, err.Error())
	}
	switch o.CgroupNS {
	case "", "private", runtime.Host:
	default:
		return bad("invalid cgroup namespace mode %q: want host or private", o.CgroupNS)
	}
	if err := o.Namespaces.check(); err != nil {
		return err
	}
	if o.Namespaces.UTS == runtime.Host && o.Hostname != "" {
		return bad("conflicting options: hostname and the UTS mode")
	}
	if o.LogMaxSize < 0 {
		return bad("max-size must be a positive number")
	}
	if o.LogMaxFile < 0 {
		return bad("max-file cannot be less than 1")
	}
	for _, l := range o.Links {
		if l.Name == "" {
			return bad("empty string specified for links")
		}
	}
	for _, v := range o.VolumesFrom {
		if err := v.check(); err != nil {
			return err
		}
	}
	for _, h := range o.ExtraHosts {
		if h.Name == "" || !h.Gateway && !h.IP.IsValid() {
			return bad("bad format for add-host: %q", h.Name)
		}
	}
	for _, d := range o.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			return bad("%s is not an ip address", d)
		}
	}
	for _, p := range o.Ports {
		if err := checkMapping(p, true); err != nil {
			return err
		}
	}
	for _, p := range o.Expose {
		if err := checkMapping(p, false); err != nil {
			return err
		}
	}
	if o.WorkDir != "" && !filepath.IsAbs(o.WorkDir) {
		return bad("the working directory %q is invalid: it needs to be an absolute path", o.WorkDir)
	}
	if o.StopSignal != "" {
		if _, err := ParseSignal(o.StopSignal); err != nil {
			return err
		}
	}
	return nil
}

// check refuses modes Docker does not have.
func (n Namespaces) check() error {
	for _, m := range []struct {
		flag string
		mode NamespaceMode
		own  []string
	}{{"--pid", n.PID, nil}, {"--ipc", n.IPC, []string{"private", "shareable", "none"}}} {
		if m.mode.Container != "" || m.mode.Mode == "" || m.mode.Mode == runtime.Host || slices.Contains(m.own, m.mode.Mode) {
			continue
		}
		return errclass.New(ErrInvalid, "invalid %s mode %q: want %s", m.flag, m.mode, strings.Join(append(m.own, "host", "container:NAME"), ", "))
	}
	if n.UTS != "" && n.UTS != runtime.Host {
		return errclass.New(ErrInvalid, "invalid --uts mode %q: want host", n.UTS)
	}
	return nil
}

// checkMapping refuses a published (or, !published, exposed) port that
// netns.ParsePorts would not have made.
func checkMapping(p netns.PortMapping, published bool) error {
	what := "exposed"
	if published {
		what = "published"
	}
	bad := func(why string) error {
		return errclass.New(ErrInvalid, "invalid %s port %d/%s: %s", what, p.Port, p.Proto, why)
	}
	switch {
	case p.Proto != "tcp" && p.Proto != "udp":
		return bad("the protocol must be tcp or udp")
	case p.Port == 0:
		return bad("the container port must be a port")
	case !published && (p.HostIP.IsValid() || p.HostPort != 0):
		return bad("want PORT[/PROTO] or a range")
	case p.HostIP.IsValid() && !p.HostIP.Is4():
		return bad("berth publishes on IPv4 addresses only")
	case p.HostPortEnd != 0 && p.HostPortEnd < cmp.Or(p.HostPort, 1):
		return bad("the host port range is backwards")
	}
	return nil
}
