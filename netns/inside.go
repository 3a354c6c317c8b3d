package netns

import (
	"fmt"
	"net/netip"
	"runtime"

	"github.com/google/nftables"
	vnetns "github.com/vishvananda/netns"
)

// Do runs fn in the network namespace at path, on a thread locked to it,
// and comes back (see onThread). Sockets fn opens stay in that namespace
// for their whole life, whichever thread later uses them: that is how a
// container's monitor serves DNS inside the container's namespace while
// running in the host's.
func Do(path string, fn func() error) error {
	target, err := vnetns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer target.Close()
	return onThread(func() error {
		if err := vnetns.Set(target); err != nil {
			return fmt.Errorf("entering network namespace %s: %w", path, err)
		}
		return nil
	}, fn)
}

// onThread runs fn on a thread of its own that enter has moved into another
// network namespace, then puts the thread back in the one it came from.
// Only a thread that got back is given back to Go's scheduler, so no other
// goroutine ever runs in a container's namespace by accident; one that did
// not stays locked and ends with its goroutine. Getting back matters, not
// just tidiness: Go ends such a thread only if it is not the process's main
// thread, which it parks instead, and a thread left inside would keep the
// namespace, and the veths in it, alive for as long as the process runs.
func onThread(enter, fn func() error) error {
	result := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			result <- fmt.Errorf("opening the current network namespace: %w", err)
			return // still locked: the thread goes with the goroutine
		}
		defer orig.Close()
		if err := enter(); err != nil {
			result <- err
			return
		}
		ferr := fn()
		if err := vnetns.Set(orig); err != nil {
			result <- fmt.Errorf("returning to the process's network namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		result <- ferr
	}()
	return <-result
}

// DNSAddress is where a container on a user-defined network finds its
// resolver, as in Docker.
var DNSAddress = netip.MustParseAddr("127.0.0.11")

// RedirectDNS sends, inside the network namespace at path, what goes to
// 127.0.0.11:53 over UDP and TCP to the resolver's own ports on that
// address, with a NAT table of the namespace's own. The resolver listens
// on random ports so that a DNS server in the container can still bind
// port 53. The rules go with the namespace.
func RedirectDNS(path string, udpPort, tcpPort uint16) error {
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer ns.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return fmt.Errorf("opening nftables in %s: %w", path, err)
	}
	table := conn.AddTable(&nftables.Table{Name: "berth-dns", Family: nftables.TableFamilyIPv4})
	accept := nftables.ChainPolicyAccept
	out := conn.AddChain(&nftables.Chain{Name: "output", Table: table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
	dst := netip.PrefixFrom(DNSAddress, 32)
	for proto, p := range map[string]uint16{"udp": udpPort, "tcp": tcpPort} {
		conn.AddRule(&nftables.Rule{Table: table, Chain: out, Exprs: join(addr(16, dst), port(proto, 53), dnat(DNSAddress, p))})
	}
	return flush(conn, "berth-dns in "+path)
}
