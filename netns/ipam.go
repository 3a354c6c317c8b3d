package netns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/errclass"
)

// Error classes of the IPAM, checked with errors.Is.
var (
	// ErrConflict: a subnet overlaps one in use, or an address is taken.
	ErrConflict = errclass.Sentinel(errclass.ErrConflict, "conflict")
	// ErrExhausted: no free subnet in the pools, or no free address.
	ErrExhausted = errclass.Sentinel(errclass.ErrUnavailable, "exhausted")
	// ErrInvalid: a subnet, range, gateway or address that cannot be.
	ErrInvalid = errclass.Sentinel(errclass.ErrInvalid, "invalid")
)

// Pool is a range subnets are cut from, as Docker's default-address-pools:
// Base split into subnets of prefix length Size.
type Pool struct {
	Base netip.Prefix
	Size int
}

// DefaultPools are where networks without a subnet get theirs: /24s, not
// Docker's /16s, so that hundreds of networks fit where Docker's pool runs
// out after about thirty. 172.17.0.0/16 is left to the default bridge.
var DefaultPools = []Pool{
	{netip.MustParsePrefix("172.18.0.0/14"), 24},
	{netip.MustParsePrefix("192.168.128.0/17"), 24},
}

// ParsePools reads pools written as BASE/SIZE, comma-separated, such as
// "10.89.0.0/16/24,172.30.0.0/16/26" (BERTH_ADDRESS_POOLS).
func ParsePools(s string) ([]Pool, error) {
	var pools []Pool
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		cut := strings.LastIndex(item, "/")
		base, err := netip.ParsePrefix(item[:max(cut, 0)])
		size, serr := strconv.Atoi(item[cut+1:])
		if cut < 0 || err != nil || serr != nil || !base.Addr().Is4() || size < base.Bits() || size > 30 {
			return nil, errclass.New(ErrInvalid, "invalid address pool %q: want BASE/SIZE, such as 10.89.0.0/16/24", item)
		}
		pools = append(pools, Pool{base.Masked(), size})
	}
	return pools, nil
}

// Subnet is one network's address plan.
type Subnet struct {
	Prefix  netip.Prefix
	Gateway netip.Addr
	// Range is where container addresses are handed out from (ipam
	// ip_range); invalid means the whole subnet.
	Range netip.Prefix `json:",omitzero"`
	// Aux are addresses the network must never hand out (aux_addresses).
	Aux map[string]netip.Addr `json:",omitempty"`
}

// IPAM hands out subnets to networks and addresses to endpoints, and
// remembers them in one file under its directory, so that allocations
// persist across berth invocations. Every call locks that file: two berth
// processes creating networks at once never get the same subnet.
//
// Subnets are owned by a network name, addresses by an endpoint name
// within their network; a release of what is not held does nothing.
type IPAM struct {
	dir   string
	pools []Pool
	// host lists the prefixes in use on the host (routes, addresses,
	// nameservers) that no subnet may overlap.
	host func() ([]netip.Prefix, error)
}

// allocations is the IPAM's file.
type allocations struct {
	Subnets map[string]Subnet `json:"subnets"`
	// Addresses are, per network, the endpoint owning each address.
	Addresses map[string]map[netip.Addr]string `json:"addresses"`
}

// NewIPAM is an IPAM keeping its state in dir, cutting subnets from pools
// and keeping clear of the prefixes host reports.
func NewIPAM(dir string, pools []Pool, host func() ([]netip.Prefix, error)) (*IPAM, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating IPAM directory: %w", err)
	}
	return &IPAM{dir: dir, pools: pools, host: host}, nil
}

// update runs fn on the allocations under the lock and writes them back if
// fn succeeds.
func (p *IPAM) update(ctx context.Context, fn func(a *allocations) error) error {
	unlock, err := disk.Lock(ctx, filepath.Join(p.dir, "ipam.lock"), false)
	if err != nil {
		return err
	}
	defer unlock()
	path := filepath.Join(p.dir, "ipam.json")
	a := allocations{Subnets: map[string]Subnet{}, Addresses: map[string]map[netip.Addr]string{}}
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &a); err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := fn(&a); err != nil {
		return err
	}
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return disk.WriteFile(path, data, 0o600)
}

// RequestSubnet gives network a subnet: want, checked, if its Prefix is
// set (ipam.config), else the first free one of the pools that overlaps no
// other network's and nothing on the host. The gateway is the subnet's
// first address unless want names one.
func (p *IPAM) RequestSubnet(ctx context.Context, network string, want Subnet) (Subnet, error) {
	var got Subnet
	err := p.update(ctx, func(a *allocations) error {
		if _, ok := a.Subnets[network]; ok {
			return errclass.New(ErrConflict, "network %s already has a subnet", network)
		}
		if want.Prefix.IsValid() {
			s, err := checkSubnet(want)
			if err != nil {
				return err
			}
			for other, o := range a.Subnets {
				if o.Prefix.Overlaps(s.Prefix) {
					return errclass.New(ErrConflict, "subnet %s overlaps %s of network %s", s.Prefix, o.Prefix, other)
				}
			}
			got = s
		} else {
			host, err := p.host()
			if err != nil {
				return fmt.Errorf("listing the host's routes: %w", err)
			}
			taken := host
			for _, o := range a.Subnets {
				taken = append(taken, o.Prefix)
			}
			prefix, ok := p.free(taken)
			if !ok {
				return errclass.New(ErrExhausted, "all predefined address pools have been fully subnetted")
			}
			got = Subnet{Prefix: prefix, Gateway: prefix.Addr().Next()}
		}
		a.Subnets[network] = got
		return nil
	})
	return got, err
}

// free is the first subnet of the pools that overlaps nothing in taken.
func (p *IPAM) free(taken []netip.Prefix) (netip.Prefix, bool) {
	for _, pool := range p.pools {
		step := uint64(1) << (32 - pool.Size)
		count := uint64(1) << (pool.Size - pool.Base.Bits())
		base := addrUint(pool.Base.Addr())
		for i := range count {
			cand := netip.PrefixFrom(uintAddr(base+i*step), pool.Size)
			if !slices.ContainsFunc(taken, cand.Overlaps) {
				return cand, true
			}
		}
	}
	return netip.Prefix{}, false
}

// checkSubnet validates a user's subnet, range, gateway and aux addresses
// the way Docker words its refusals, and fills in the gateway.
func checkSubnet(s Subnet) (Subnet, error) {
	if !s.Prefix.Addr().Is4() || s.Prefix.Bits() > 30 {
		return s, errclass.New(ErrInvalid, "invalid subnet %s: berth networks take IPv4 subnets of /30 or larger", s.Prefix)
	}
	if s.Prefix != s.Prefix.Masked() {
		return s, errclass.New(ErrInvalid, "invalid subnet %s: it should be %s", s.Prefix, s.Prefix.Masked())
	}
	if s.Range.IsValid() && (s.Range.Bits() < s.Prefix.Bits() || !s.Prefix.Contains(s.Range.Addr())) {
		return s, errclass.New(ErrInvalid, "invalid ip-range %s: it must be within subnet %s", s.Range, s.Prefix)
	}
	if !s.Gateway.IsValid() {
		s.Gateway = s.Prefix.Addr().Next()
	} else if !usable(s.Prefix, s.Gateway) {
		return s, errclass.New(ErrInvalid, "invalid gateway %s: it must be a host address within subnet %s", s.Gateway, s.Prefix)
	}
	for name, aux := range s.Aux {
		if !s.Prefix.Contains(aux) {
			return s, errclass.New(ErrInvalid, "invalid aux address %s=%s: it must be within subnet %s", name, aux, s.Prefix)
		}
	}
	return s, nil
}

// usable is whether addr is a host address of prefix: inside it, and
// neither its network nor its broadcast address.
func usable(prefix netip.Prefix, addr netip.Addr) bool {
	last := uintAddr(addrUint(prefix.Addr()) | (1<<(32-prefix.Bits()) - 1))
	return prefix.Contains(addr) && addr != prefix.Addr() && addr != last
}

// ReleaseSubnet frees network's subnet and every address in it.
func (p *IPAM) ReleaseSubnet(ctx context.Context, network string) error {
	return p.update(ctx, func(a *allocations) error {
		delete(a.Subnets, network)
		delete(a.Addresses, network)
		return nil
	})
}

// RequestAddress gives endpoint an address on network: want if valid (a
// static ipv4_address), checked, else the lowest free one of the range.
// The gateway and aux addresses are never handed out.
func (p *IPAM) RequestAddress(ctx context.Context, network, endpoint string, want netip.Addr) (netip.Addr, error) {
	var got netip.Addr
	err := p.update(ctx, func(a *allocations) error {
		s, ok := a.Subnets[network]
		if !ok {
			return errclass.New(ErrInvalid, "network %s has no subnet", network)
		}
		used := a.Addresses[network]
		if used == nil {
			used = map[netip.Addr]string{}
			a.Addresses[network] = used
		}
		// an endpoint has one address on a network: one it still holds
		// is from a run whose end was not seen through (a process killed
		// before it gave it back), and would refuse its own static address
		for addr, owner := range used {
			if owner == endpoint {
				delete(used, addr)
			}
		}
		reserved := func(addr netip.Addr) bool {
			_, taken := used[addr]
			return taken || addr == s.Gateway || slices.Contains(slices.Collect(maps.Values(s.Aux)), addr)
		}
		if want.IsValid() {
			if !usable(s.Prefix, want) {
				return errclass.New(ErrInvalid, "invalid address %s: it is not a host address of network %s's subnet %s", want, network, s.Prefix)
			}
			if owner, taken := used[want]; taken {
				return errclass.New(ErrConflict, "address %s is already in use on network %s by %s", want, network, owner)
			}
			if reserved(want) {
				return errclass.New(ErrConflict, "address %s is reserved on network %s", want, network)
			}
			got = want
		} else {
			from := s.Range
			if !from.IsValid() {
				from = s.Prefix
			}
			for addr := from.Addr(); from.Contains(addr); addr = addr.Next() {
				if usable(s.Prefix, addr) && !reserved(addr) {
					got = addr
					break
				}
			}
			if !got.IsValid() {
				return errclass.New(ErrExhausted, "no available IPv4 addresses on network %s (%s)", network, from)
			}
		}
		used[got] = endpoint
		return nil
	})
	return got, err
}

// ReleaseAddress frees endpoint's addresses on network.
func (p *IPAM) ReleaseAddress(ctx context.Context, network, endpoint string) error {
	return p.update(ctx, func(a *allocations) error {
		for addr, owner := range a.Addresses[network] {
			if owner == endpoint {
				delete(a.Addresses[network], addr)
			}
		}
		return nil
	})
}

func addrUint(a netip.Addr) uint64 {
	b := a.As4()
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
}

func uintAddr(n uint64) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}
