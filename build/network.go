package build

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/buildkit/solver/pb"

	"github.com/berth-dev/berth/build/frontend/wire"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/netns"
)

// Entitlements a build may be given (docker build's --allow, buildx's
// entitlements): what a RUN may ask for only when the build allows it.
const (
	// AllowNetworkHost lets a RUN use the host's network
	// (RUN --network=host); a build whose network is host has it.
	AllowNetworkHost = "network.host"
	// AllowInsecure lets a RUN run privileged (RUN --security=insecure;
	// compose's build.privileged).
	AllowInsecure = "security.insecure"
)

// Values of RunOptions.Network, BuildKit's network modes.
const (
	NetworkDefault = "default"
	NetworkNone    = "none"
	NetworkHost    = "host"
)

// HostGateway, as an extra host's address, is the gateway of berth's
// default network: the host, as a RUN step on it sees it.
const HostGateway = "host-gateway"

// RunOptions say how RUN steps run: their network, extra /etc/hosts
// entries, limits, secrets, and what they are allowed.
type RunOptions struct {
	// Network is every RUN's network unless the RUN says otherwise:
	// "" or NetworkDefault (berth's default bridge network, with NAT and
	// the host's nameservers), NetworkNone (loopback only) or
	// NetworkHost (the host's, which allows RUN --network=host).
	Network string
	// ExtraHosts are /etc/hosts entries, NAME:IP (--add-host,
	// extra_hosts); the IP may be HostGateway.
	ExtraHosts []string
	// ShmSize is /dev/shm's size in bytes; 0 is 64 MB.
	ShmSize int64
	// Ulimits are the RUN processes' rlimits (--ulimit), Type as
	// RLIMIT_NOFILE.
	Ulimits []Ulimit
	// Allow are the entitlements granted: AllowNetworkHost,
	// AllowInsecure.
	Allow []string
	// Secrets are what RUN --mount=type=secret and --mount=...,env= read,
	// by ID (--secret).
	Secrets []Secret
}

// Ulimit is one rlimit: Name as Docker's --ulimit names it (nofile).
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// allowed reports whether the build has entitlement e.
func (o RunOptions) allowed(e string) bool {
	if e == AllowNetworkHost && o.Network == NetworkHost {
		return true
	}
	return slices.Contains(o.Allow, e)
}

// check refuses options that no build can honour.
func (o RunOptions) check() error {
	switch o.Network {
	case "", NetworkDefault, NetworkNone, NetworkHost:
	default:
		return errclass.New(ErrInvalid, "network mode %q not supported by berth's builder: want default, none or host", o.Network)
	}
	for _, e := range o.Allow {
		if e != AllowNetworkHost && e != AllowInsecure {
			return errclass.New(ErrInvalid, "invalid entitlement %q: want %s or %s", e, AllowNetworkHost, AllowInsecure)
		}
	}
	for _, h := range o.ExtraHosts {
		if _, _, err := parseExtraHost(h); err != nil {
			return err
		}
	}
	for _, u := range o.Ulimits {
		if _, ok := rlimitTypes[u.Name]; !ok {
			return errclass.New(ErrInvalid, "invalid ulimit %q: unknown name", u.Name)
		}
	}
	return checkSecrets(o.Secrets)
}

// rlimitTypes are the ulimit names Docker knows.
var rlimitTypes = map[string]bool{"core": true, "cpu": true, "data": true, "fsize": true, "locks": true, "memlock": true,
	"msgqueue": true, "nice": true, "nofile": true, "nproc": true, "rss": true, "rtprio": true, "rttime": true,
	"sigpending": true, "stack": true, "as": true}

func parseExtraHost(s string) (name, ip string, err error) {
	name, ip, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return "", "", errclass.New(ErrInvalid, "bad format for add-host: %q", s)
	}
	if ip == HostGateway {
		return name, ip, nil
	}
	if _, err := netip.ParseAddr(strings.Trim(ip, "[]")); err != nil {
		return "", "", errclass.New(ErrInvalid, "invalid IP address in add-host: %q", ip)
	}
	return name, strings.Trim(ip, "[]"), nil
}

// runConfig is what of the run options the frontend puts in the LLB
// itself, as BuildKit's does: the network mode, extra hosts, the
// /dev/shm size (a tmpfs mount of each RUN) and ulimits, so that they are
// part of each step's definition (and of its cache key).
type runConfig struct {
	network pb.NetMode
	hosts   []wire.Host
	shmSize int64
	ulimits []wire.Ulimit
}

func (b *builder) runConfig(ctx context.Context) (runConfig, error) {
	c := runConfig{shmSize: b.o.ShmSize}
	switch b.o.Network {
	case NetworkNone:
		c.network = pb.NetMode_NONE
	case NetworkHost:
		c.network = pb.NetMode_HOST
	}
	for _, h := range b.o.ExtraHosts {
		name, ip, err := parseExtraHost(h)
		if err != nil {
			return runConfig{}, err
		}
		if ip == HostGateway {
			gw, err := defaultGateway(ctx, b.o.Root)
			if err != nil {
				return runConfig{}, err
			}
			ip = gw.String()
		}
		c.hosts = append(c.hosts, wire.Host{Name: name, IP: ip})
	}
	for _, u := range b.o.Ulimits {
		c.ulimits = append(c.ulimits, wire.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	return c, nil
}

// networksDir holds the root's networks (package netns).
func networksDir(root string) string { return filepath.Join(root, "networks") }

// defaultGateway is the gateway of the root's default network, made if it
// is not there yet.
func defaultGateway(ctx context.Context, root string) (netip.Addr, error) {
	s, done, err := netns.OpenHost(networksDir(root))
	if err != nil {
		return netip.Addr{}, err
	}
	defer done()
	n, err := s.Default(ctx)
	if err != nil {
		return netip.Addr{}, err
	}
	return n.Subnet.Gateway, nil
}

// stepNet is a RUN step's network: a namespace to join (empty: a new one
// with loopback only), or the host's.
type stepNet struct {
	path  string
	host  bool
	leave func()
}

// joinNetwork readies the network of step id: for NetMode_UNSET a
// namespace made ahead of the step, on berth's default bridge network
// (an address from its IPAM, a veth to its bridge, the gateway as the
// default route), as a container that names no network gets; the host's
// for HOST, when allowed; loopback only for NONE. leave undoes it.
// The namespace is bind-mounted in the step's bundle, so that the sweep of
// a dead build's directory, which unmounts all in it, takes it too.
func (b *builder) joinNetwork(ctx context.Context, mode pb.NetMode, id, bundle, step string) (*stepNet, error) {
	switch mode {
	case pb.NetMode_NONE:
		return &stepNet{leave: func() {}}, nil
	case pb.NetMode_HOST:
		if !b.o.allowed(AllowNetworkHost) {
			return nil, errclass.New(ErrInvalid, "%s: network.host is not allowed (RUN --network=host needs the build's --allow network.host, or --network host)", step)
		}
		return &stepNet{host: true, leave: func() {}}, nil
	case pb.NetMode_UNSET:
	default:
		return nil, unsupported("exec with network "+strings.ToLower(mode.String()), step)
	}
	s, done, err := netns.OpenHost(networksDir(b.o.Root))
	if err != nil {
		return nil, err
	}
	defer done()
	// what a restarted firewall took away is put back, as at a
	// container's start
	if err := s.CheckFirewall(ctx); err != nil {
		return nil, err
	}
	n, err := s.Default(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.Ensure(ctx, n); err != nil {
		return nil, fmt.Errorf("joining network %s: %w", n.Name, err)
	}
	path := filepath.Join(bundle, "netns")
	ns, err := netns.CreateNamespace(path)
	if err != nil {
		return nil, err
	}
	ns.Close()
	addr, err := s.IPAM().RequestAddress(ctx, n.Name, id, netip.Addr{})
	if err != nil {
		netns.RemoveNamespace(path)
		return nil, err
	}
	hostIf, err := netns.Attach(s.Host(), netns.Endpoint{Bridge: n.Bridge, NetNS: path, IfName: "eth0",
		Address: netip.PrefixFrom(addr, n.Subnet.Prefix.Bits()), Gateway: n.Subnet.Gateway, MTU: n.MTU})
	if err != nil {
		s.IPAM().ReleaseAddress(context.WithoutCancel(ctx), n.Name, id)
		netns.RemoveNamespace(path)
		return nil, fmt.Errorf("joining network %s: %w", n.Name, err)
	}
	network := n.Name
	return &stepNet{path: path, leave: func() {
		if s, done, err := netns.OpenHost(networksDir(b.o.Root)); err == nil {
			netns.Release(s.Host(), hostIf) // the pair goes with the namespace
			s.IPAM().ReleaseAddress(context.Background(), network, id)
			done()
		}
		netns.RemoveNamespace(path)
	}}, nil
}

// sweepAddresses gives back the addresses on the default network that
// the steps of a dead build (whose container IDs begin with prefix) hold;
// their namespaces are in its directory, which the sweep unmounts.
func sweepAddresses(root, prefix string) {
	netns.Sweep(context.Background(), networksDir(root), func(owner string) bool { return !strings.HasPrefix(owner, prefix) })
}

// etcFiles writes a step's /etc/hosts and /etc/resolv.conf in dir, as
// BuildKit makes them: localhost and the hostname on 127.0.0.1, then the
// extra hosts; the host's resolv.conf, its loopback nameservers dropped
// (Google's public ones when none is left) unless the step is on the
// host's network, where systemd-resolved's 127.0.0.53 stays reachable.
func etcFiles(dir, hostname string, extra []*pb.HostIP, host bool, resolvPath string) (hosts, resolv string, err error) {
	var b strings.Builder
	fmt.Fprintf(&b, "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n", hostname)
	for _, h := range extra {
		fmt.Fprintf(&b, "%s\t%s\n", h.IP, h.Host)
	}
	hosts = filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte(b.String()), 0o644); err != nil {
		return "", "", err
	}
	data, err := resolvConf(resolvPath, host)
	if err != nil {
		return "", "", err
	}
	resolv = filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, data, 0o644); err != nil {
		return "", "", err
	}
	return hosts, resolv, nil
}

// resolvConf is BuildKit's resolv.conf for a step (executor/oci's
// GetResolvConf): the host's, from systemd-resolved's own file when the
// host's names only its stub 127.0.0.53, filtered for a network of the
// step's own.
func resolvConf(path string, host bool) ([]byte, error) {
	if path == "" {
		path = "/etc/resolv.conf"
		if !host {
			if rc, err := loadResolv(path); err == nil {
				if ns := rc.nameServers; len(ns) == 1 && ns[0] == netip.MustParseAddr("127.0.0.53") {
					path = "/run/systemd/resolve/resolv.conf"
				}
			}
		}
	}
	rc, err := loadResolv(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if !host || len(rc.nameServers) == 0 {
		rc.legacy()
	}
	return rc.generate(), nil
}

// resolvFile is a resolv.conf as BuildKit's util/resolvconf reads and
// writes it for a step (its Load, TransformForLegacyNw(true) and
// Generate(false), which TestResolvFile compares): its own code, not
// BuildKit's package, whose logger would link OpenTelemetry into berth.
type resolvFile struct {
	nameServers            []netip.Addr
	search, options, other []string
}

// loadResolv reads the file at path; on error, it is empty.
func loadResolv(path string) (resolvFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return resolvFile{}, err
	}
	defer f.Close()
	var rc resolvFile
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			// an address that does not parse is left out
			if len(fields) > 1 {
				if addr, err := netip.ParseAddr(fields[1]); err == nil {
					rc.nameServers = append(rc.nameServers, addr)
				}
			}
		case "domain", "search":
			if len(fields) > 1 {
				rc.search = fields[1:]
			}
		case "options":
			rc.options = append(rc.options, fields[1:]...)
		default:
			rc.other = append(rc.other, line)
		}
	}
	if err := sc.Err(); err != nil {
		return resolvFile{}, err
	}
	return rc, nil
}

// legacy leaves out the loopback name servers, which a step's own
// network cannot reach; none left, Google's public ones.
func (rc *resolvFile) legacy() {
	var kept []netip.Addr
	for _, a := range rc.nameServers {
		if !a.IsLoopback() {
			kept = append(kept, a)
		}
	}
	rc.nameServers = kept
	if len(kept) == 0 {
		for _, a := range []string{"8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "2001:4860:4860::8844"} {
			rc.nameServers = append(rc.nameServers, netip.MustParseAddr(a))
		}
	}
}

func (rc *resolvFile) generate() []byte {
	var b bytes.Buffer
	for _, ns := range rc.nameServers {
		b.WriteString("nameserver " + ns.String() + "\n")
	}
	if len(rc.search) > 0 {
		b.WriteString("search " + strings.Join(rc.search, " ") + "\n")
	}
	if len(rc.options) > 0 {
		b.WriteString("options " + strings.Join(rc.options, " ") + "\n")
	}
	for _, o := range rc.other {
		b.WriteString(o + "\n")
	}
	return b.Bytes()
}
