package netns

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/match"
)

// BridgeNameOption names a network's bridge, as in Docker.
const BridgeNameOption = "com.docker.network.bridge.name"

// MTUOption sets a network's MTU, as in Docker.
const MTUOption = "com.docker.network.driver.mtu"

// Network is one network's record, <root>/networks/<id>.json.
type Network struct {
	Name     string
	ID       string
	Driver   string
	Created  time.Time
	Internal bool
	Labels   map[string]string
	Options  map[string]string
	Subnet   Subnet
	Bridge   string
	MTU      int `json:",omitempty"`
}

// CreateOptions shape Store.Create; Subnet's Prefix left invalid means one
// from the pools.
type CreateOptions struct {
	Name     string
	Driver   string
	Internal bool
	Labels   map[string]string
	Options  map[string]string
	Subnet   Subnet
}

// Store keeps the networks of one berth root: their records, their
// addresses (an IPAM in the same directory) and their bridges, in the
// network namespace host looks at.
type Store struct {
	dir  string
	ipam *IPAM
	host *netlink.Handle
	fw   *nftables.Conn
	// Forwarding, when set, is called before a network that reaches the
	// outside is made: EnableForwarding for the host's namespace.
	Forwarding func() error
	// Localnet, when set, is called with each new bridge's name:
	// EnableLocalnet for the host's namespace.
	Localnet func(bridge string) error
	// Filter is the host's iptables that berth's rules must also be in
	// (see filter.go): HostFilter for the host's namespace.
	Filter Filter
}

// OpenStore opens the networks under dir, with their bridges in the
// namespace host looks at, their firewall rules through fw (nil: none)
// and subnets from pools.
func OpenStore(dir string, host *netlink.Handle, fw *nftables.Conn, pools []Pool) (*Store, error) {
	ipam, err := NewIPAM(dir, pools, func() ([]netip.Prefix, error) { return HostPrefixes(host, "/etc/resolv.conf") })
	if err != nil {
		return nil, err
	}
	return &Store{dir: dir, ipam: ipam, host: host, fw: fw}, nil
}

// OpenHost opens the networks under dir as berth itself uses them: bridges
// and rules in the calling process's (the host's) namespace, IPv4
// forwarding and route_localnet turned on there as networks need them,
// and subnets from BERTH_ADDRESS_POOLS or the default pools. close
// releases the netlink handle.
func OpenHost(dir string) (s *Store, close func(), err error) {
	pools := DefaultPools
	if env := os.Getenv("BERTH_ADDRESS_POOLS"); env != "" {
		if pools, err = ParsePools(env); err != nil {
			return nil, nil, fmt.Errorf("BERTH_ADDRESS_POOLS: %w", err)
		}
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, nil, fmt.Errorf("opening netlink: %w", err)
	}
	fw, err := nftables.New()
	if err != nil {
		h.Close()
		return nil, nil, fmt.Errorf("opening nftables: %w", err)
	}
	if s, err = OpenStore(dir, h, fw, pools); err != nil {
		h.Close()
		return nil, nil, err
	}
	s.Forwarding, s.Localnet, s.Filter = EnableForwarding, EnableLocalnet, HostFilter(fw)
	return s, h.Close, nil
}

// DefaultNetwork is the network a container joins when it names none:
// Docker's default bridge, with no DNS names, made on first use.
const DefaultNetwork = "bridge"

// DefaultBridgeOption marks the default network, as in Docker.
const DefaultBridgeOption = "com.docker.network.bridge.default_bridge"

// IsDefault reports whether n is the default bridge network.
func (n Network) IsDefault() bool { return n.Options[DefaultBridgeOption] == "true" }

// defaultSubnet is Docker's default bridge subnet, which the default
// network takes when nothing on the host (Docker's own docker0, say) uses
// it.
var defaultSubnet = netip.MustParsePrefix("172.17.0.0/16")

// Default is the default bridge network, made if it is not there yet.
func (s *Store) Default(ctx context.Context) (Network, error) {
	if n, err := s.Get(DefaultNetwork); err == nil {
		return n, nil
	}
	o := CreateOptions{Name: DefaultNetwork, Options: map[string]string{DefaultBridgeOption: "true"}}
	if host, err := HostPrefixes(s.host, "/etc/resolv.conf"); err == nil &&
		!slices.ContainsFunc(host, func(p netip.Prefix) bool { return p.Overlaps(defaultSubnet) }) {
		o.Subnet = Subnet{Prefix: defaultSubnet, Gateway: defaultSubnet.Addr().Next()}
	}
	n, err := s.Create(ctx, o)
	if errors.Is(err, ErrConflict) {
		// made meanwhile by another berth, or the subnet is another
		// network's: the pools then give one
		if n, gerr := s.Get(DefaultNetwork); gerr == nil {
			return n, nil
		}
		o.Subnet = Subnet{}
		n, err = s.Create(ctx, o)
	}
	return n, err
}

// syncFirewall rebuilds berth's table, and its chain in the host's
// iptables, from the networks, leaving out skip.
func (s *Store) syncFirewall(ctx context.Context, skip string) error {
	if s.fw == nil {
		return nil
	}
	rules, err := s.rules(skip)
	if err != nil {
		return err
	}
	if err := SyncFirewall(s.fw, TableName(s.dir), rules); err != nil {
		return err
	}
	return s.Filter.Sync(ctx, TableName(s.dir), rules)
}

// rules are what the firewall needs of the networks, leaving out skip.
func (s *Store) rules(skip string) ([]Rule, error) {
	list, err := s.List()
	if err != nil {
		return nil, err
	}
	var rules []Rule
	ports := s.published()
	for _, n := range list {
		if n.ID != skip {
			rules = append(rules, Rule{Bridge: n.Bridge, Subnet: n.Subnet.Prefix, Internal: n.Internal, Ports: ports[n.ID]})
		}
	}
	return rules, nil
}

// CheckFirewall puts back berth's rules where something took them away:
// its table (gone after an `nft flush ruleset`, as a firewall's restart
// does), or its chain and jump in the host's iptables (gone after a
// Docker restart or a firewall reload flushed FORWARD; missing where the
// filter table came after the network, as when Docker starts after
// berth). It only reads while all is there, which is the common case: the
// containers' starts and `up` call it every time.
func (s *Store) CheckFirewall(ctx context.Context) error {
	if s.fw == nil {
		return nil
	}
	rules, err := s.rules("")
	if err != nil || len(rules) == 0 {
		return err
	}
	if s.tableExists() && s.Filter.Holds(ctx, TableName(s.dir), rules) {
		return nil
	}
	unlock, err := disk.Lock(ctx, filepath.Join(s.dir, "networks.lock"), false)
	if err != nil {
		return err
	}
	defer unlock()
	return s.syncFirewall(ctx, "")
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Create makes a network: its subnet, its bridge and its record. Nothing
// is left of a network that could not be made.
func (s *Store) Create(ctx context.Context, o CreateOptions) (Network, error) {
	if (o.Name == DefaultNetwork && o.Options[DefaultBridgeOption] != "true") || o.Name == "host" || o.Name == "none" {
		return Network{}, errclass.New(ErrConflict, "%s is a pre-defined network: choose another name", o.Name)
	}
	if !validName.MatchString(o.Name) {
		return Network{}, errclass.New(ErrInvalid, "invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
	}
	if o.Driver != "" && o.Driver != "bridge" {
		return Network{}, errclass.New(ErrInvalid, "network driver %q is not supported: berth makes bridge networks", o.Driver)
	}
	unlock, err := disk.Lock(ctx, filepath.Join(s.dir, "networks.lock"), false)
	if err != nil {
		return Network{}, err
	}
	defer unlock()
	if _, err := s.Get(o.Name); err == nil {
		return Network{}, errclass.New(ErrConflict, "network with name %s already exists", o.Name)
	}
	id := make([]byte, 32)
	rand.Read(id)
	n := Network{Name: o.Name, ID: hex.EncodeToString(id), Driver: "bridge", Created: time.Now().UTC(),
		Internal: o.Internal, Labels: o.Labels, Options: o.Options}
	n.Bridge = cmp.Or(o.Options[BridgeNameOption], "br-"+n.ID[:12])
	if v, ok := o.Options[MTUOption]; ok {
		if n.MTU, err = strconv.Atoi(v); err != nil || n.MTU < 68 {
			return Network{}, errclass.New(ErrInvalid, "invalid MTU %q: want a number of at least 68", v)
		}
	}
	if s.Forwarding != nil && !o.Internal {
		if err := s.Forwarding(); err != nil {
			return Network{}, err
		}
	}
	// a subnet held by a name that has no record is what a create killed
	// before it wrote one left: this create takes its place
	if err := s.ipam.ReleaseSubnet(ctx, n.Name); err != nil {
		return Network{}, err
	}
	if n.Subnet, err = s.ipam.RequestSubnet(ctx, n.Name, o.Subnet); err != nil {
		return Network{}, err
	}
	crash.Point("network-subnet")
	undo := func() {
		ctx := context.WithoutCancel(ctx)
		DeleteBridge(s.host, n.Bridge)
		os.Remove(s.path(n.ID))
		s.ipam.ReleaseSubnet(ctx, n.Name)
	}
	// the record before the bridge: a create cut short leaves a network
	// whose bridge Ensure makes at the next container start (as after a
	// reboot) and whose rules CheckFirewall puts back, never a bridge
	// that no record names
	data, _ := json.MarshalIndent(n, "", "  ")
	if err := disk.WriteFile(s.path(n.ID), data, 0o600); err != nil {
		undo()
		return Network{}, err
	}
	crash.Point("network-record")
	if err := CreateBridge(s.host, n.Bridge, n.Subnet, n.MTU); err != nil {
		undo()
		return Network{}, err
	}
	if s.Localnet != nil {
		if err := s.Localnet(n.Bridge); err != nil {
			undo()
			return Network{}, err
		}
	}
	if err := s.syncFirewall(ctx, ""); err != nil {
		undo()
		return Network{}, err
	}
	return n, nil
}

// Host is the handle on the namespace the bridges are in.
func (s *Store) Host() *netlink.Handle { return s.host }

// IPAM hands out the networks' addresses.
func (s *Store) IPAM() *IPAM { return s.ipam }

func (s *Store) path(id string) string { return filepath.Join(s.dir, id+".json") }

// List is every network, by name.
func (s *Store) List() ([]Network, error) {
	paths, err := filepath.Glob(filepath.Join(s.dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Network
	for _, p := range paths {
		if filepath.Base(p) == "ipam.json" {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			continue // removed meanwhile
		}
		var n Network
		if err := json.Unmarshal(data, &n); err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Network) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Get finds a network by name, full ID or unique ID prefix, as Docker does.
func (s *Store) Get(ref string) (Network, error) {
	list, err := s.List()
	if err != nil {
		return Network{}, err
	}
	n, count := match.One(list, ref, func(n Network) string { return n.Name }, func(n Network) string { return n.ID })
	switch count {
	case 1:
		return n, nil
	case 0:
		return Network{}, errclass.New(ErrNotFound, "network %s not found", ref)
	}
	return Network{}, errclass.New(ErrConflict, "network %s is ambiguous (%d matches found based on ID prefix)", ref, count)
}

// Remove deletes a network: its bridge, its subnet and its record. users,
// if given, names the running containers on a network, which is then
// refused, as Docker refuses a network with active endpoints (and so is
// a network whose users cannot be known). The record
// goes last, so a removal cut short can be run again.
func (s *Store) Remove(ctx context.Context, ref string, users func(network string) ([]string, error)) (Network, error) {
	return s.remove(ctx, ref, users, false)
}

// Teardown removes every network of the root, the default one included,
// whoever uses them: for taking berth off a machine, and for tests, which
// must leave no bridge behind.
func (s *Store) Teardown(ctx context.Context) error {
	list, err := s.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range list {
		if _, err := s.remove(ctx, n.ID, nil, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Store) remove(ctx context.Context, ref string, users func(network string) ([]string, error), predefined bool) (Network, error) {
	unlock, err := disk.Lock(ctx, filepath.Join(s.dir, "networks.lock"), false)
	if err != nil {
		return Network{}, err
	}
	defer unlock()
	n, err := s.Get(ref)
	if err != nil {
		return Network{}, err
	}
	if n.IsDefault() && !predefined {
		return n, errclass.New(ErrInvalid, "%s is a pre-defined network and cannot be removed", n.Name)
	}
	if users != nil {
		u, err := users(n.Name)
		if err != nil {
			return n, err
		}
		if len(u) > 0 {
			return n, errclass.New(ErrConflict, "error while removing network: network %s has active endpoints (%s)", n.Name, strings.Join(u, ", "))
		}
	}
	// the rules and the bridge go together: the one waits on nftables'
	// commit, the other on RCU grace periods under the RTNL lock, and
	// neither needs the other gone first
	var fwErr error
	var wg sync.WaitGroup
	wg.Go(func() { fwErr = s.syncFirewall(ctx, n.ID) })
	brErr := DeleteBridge(s.host, n.Bridge)
	wg.Wait()
	if err := errors.Join(fwErr, brErr); err != nil {
		return n, err
	}
	if err := s.ipam.ReleaseSubnet(ctx, n.Name); err != nil {
		return n, err
	}
	if err := os.Remove(s.path(n.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return n, err
	}
	return n, nil
}

// Ensure makes the network's bridge again from its record (same name,
// gateway address, MTU) when it is missing, as after a reboot, which
// takes every bridge and nftables table with it while the records stay,
// and then rebuilds the firewall. It reports whether it re-made the
// bridge. A bridge that is there is left as it is: the fast path is one
// netlink lookup, made before every container start (whose
// CheckFirewall puts back a table or chain that went on its own).
func (s *Store) Ensure(ctx context.Context, n Network) (bool, error) {
	link, err := existingLink(s.host, n.Bridge, "bridge "+n.Bridge)
	if err != nil {
		return false, err
	}
	if link != nil {
		return false, nil // the firewall is CheckFirewall's
	}
	unlock, err := disk.Lock(ctx, filepath.Join(s.dir, "networks.lock"), false)
	if err != nil {
		return false, err
	}
	defer unlock()
	// another berth may have re-made it meanwhile, or removed the network
	if n, err = s.Get(n.ID); err != nil {
		return false, err
	}
	if link, err := existingLink(s.host, n.Bridge, "bridge "+n.Bridge); err != nil || link != nil {
		return false, err
	}
	// forwarding is the kernel's setting and starts off after a boot
	if s.Forwarding != nil && !n.Internal {
		if err := s.Forwarding(); err != nil {
			return false, err
		}
	}
	if err := CreateBridge(s.host, n.Bridge, n.Subnet, n.MTU); err != nil {
		return false, fmt.Errorf("re-making network %s: %w", n.Name, err)
	}
	if s.Localnet != nil {
		if err := s.Localnet(n.Bridge); err != nil {
			DeleteBridge(s.host, n.Bridge)
			return false, err
		}
	}
	if err := s.syncFirewall(ctx, ""); err != nil {
		return true, fmt.Errorf("re-making network %s: %w", n.Name, err)
	}
	return true, nil
}

// tableExists reports whether berth's nftables table for this root is
// there (a reboot, or a flush of the whole ruleset, removes it).
func (s *Store) tableExists() bool {
	_, err := s.fw.ListTableOfFamily(TableName(s.dir), nftables.TableFamilyIPv4)
	return err == nil
}
