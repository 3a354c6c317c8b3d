// Package netns makes bridge networks: network records, IPAM, bridges,
// veth pairs into container namespaces made beforehand, and the firewall
// (NAT, isolation, published ports) in berth's own nftables table, with a
// chain in the host's iptables beside it.
//
// Every function takes the netlink handle (or nftables connection) of the
// namespace it acts in, so tests run whole networks inside namespaces of
// their own, with an "outside" namespace on TEST-NET-1 addresses standing
// for the world; [OpenHost] is the [Store] berth itself uses, on the host.
//
// Vocabulary:
//
//   - A network is a record, <root>/networks/<id>.json ([Network]): name,
//     ID, subnet, bridge (br- and 12 hex digits of the ID, or the
//     com.docker.network.bridge.name option), MTU, internal, labels,
//     options. Only the bridge driver exists.
//   - An endpoint is a container's place on a network ([Endpoint]): a veth
//     pair whose host end is on the bridge and whose other end is ethN in
//     the container's namespace, with an address from the IPAM and Docker's
//     MAC (02:42 and the IPv4 address).
//   - A binding is a published port once its host port is known
//     ([Binding], 0.0.0.0:8080->80/tcp).
//
// # Records, and what a crash leaves
//
// Create and remove hold networks/networks.lock. Create takes the subnet
// (first giving back one that its name still holds with no record: a create
// killed before its record), writes the record, then makes the bridge,
// undoing each step if a later one fails; so a create cut short leaves a
// record whose bridge [Store.Ensure] makes and whose rules
// [Store.CheckFirewall] puts back at the next container start, never a
// bridge no record names. Remove takes the rules and the bridge first (in
// parallel: one waits on nftables' commit, the other on the kernel) and the
// record last, so a removal cut short can be run again. Ensure makes a
// missing bridge again from its record (same name, gateway address, MTU,
// route_localnet, forwarding), as after a reboot, which takes bridges and
// tables while the records stay; every container start calls it for each
// of its networks (one netlink lookup when the bridge is there), and
// CheckFirewall, at every container start and every up, puts back a table
// or chain that went. [Sweep] gives back the ports and addresses of
// containers that are gone.
//
// The default network ([Store.Default]) is "bridge", marked with Docker's
// com.docker.network.bridge.default_bridge option, made on first use by a
// container that names no network. It takes Docker's 172.17.0.0/16 unless a
// host route or address overlaps it (Docker's own docker0, or another berth
// root's default network), and then a /24 of the pools. Its bridge is
// br-<id> like any other: a fixed docker0-like name would clash between
// roots. It cannot be removed (but by [Store.Teardown], which removes every
// network of a root, as the integration tests do), and bridge, host and
// none cannot be created.
//
// # IPAM
//
// Subnets for networks and addresses for endpoints live in one file,
// <root>/networks/ipam.json, read and written under networks/ipam.lock, so
// that two berth processes never hand out the same one. A network without a
// subnet gets the first /24 of the pools ([DefaultPools]: 172.18.0.0/14,
// then 192.168.128.0/17) that overlaps no other network's subnet and
// nothing on the host ([HostPrefixes]: the destinations of the host's IPv4
// routes in every table but the default route, the subnets of its
// addresses, its nameservers). Docker cuts /16s, and its pool runs out
// after about thirty networks; /24s give over a thousand.
// BERTH_ADDRESS_POOLS (BASE/SIZE,..., see [ParsePools]) replaces the pools.
// A user's subnet (ipam.config) is checked instead: IPv4, /30 or larger,
// not overlapping another network's, the gateway a host address within it,
// ip_range inside it. Addresses are the lowest free in the range, never the
// network, broadcast, gateway or an aux address; a static one is checked
// the same way, and an endpoint asking again gets the address it holds.
//
// # Namespaces, bridges and veths
//
// A container's network namespace is made before the container, as CNI
// runtimes do: [CreateNamespace] unshares one on a locked thread,
// bind-mounts it at a path and puts the thread back in the host's namespace
// before unlocking it (a thread left inside would keep the namespace alive:
// Go parks, rather than ends, a locked main thread). Networks are attached
// to it while nothing runs, and the runtime joins it by path, so the
// container's first instruction already has its network. [RemoveNamespace]
// unmounts it; the kernel then frees it and the veths in it. [Do] runs a
// function inside a namespace (setns on a locked thread, and back): a
// socket stays in the namespace it was made in.
//
// [Attach] makes a veth pair with random names, the host end enslaved to
// the bridge (in hairpin mode, so that a container reaches its own
// published port) and the other created directly in the container's
// namespace, then renamed there to eth0, eth1, ... (free there, not on the
// host), given its MAC and address, loopback up and, for the first network,
// the default route. A failed attach deletes the pair. [Detach] (network
// disconnect of a running container) deletes the pair; [Release], for a
// container whose namespace is about to go, only takes the host end off its
// bridge, so that it answers for no address handed out again, and leaves
// the pair to the kernel, which deletes it with the namespace in the
// background: deleting a link waits out RCU grace periods under the RTNL
// lock, one at a time across all containers, which dominated `down`.
// Detach, Release and DeleteBridge accept what is already gone, so removal
// can be retried.
//
// # Firewall
//
// One nftables table per berth root (google/nftables, no nft binary),
// [TableName]: berth- and a hash of the networks directory, family ip, so
// that roots side by side never rebuild each other's rules. The table is a
// function of the network records and the running containers' published
// ports, rebuilt whole in one atomic netlink batch whenever either changes,
// and deleted with the last network, so it cannot drift from them. Its
// chains keep policy accept and match only berth's bridges: masquerade for
// traffic from a network's subnet leaving by another interface (not for
// internal networks, whose bridge nothing is forwarded into or out of), a
// drop between any two berth bridges, and the published ports' DNAT.
// Creating a network that is not internal turns on IPv4 forwarding, as
// Docker does.
//
// Beside another firewall (filter.go, which says why at length): netfilter
// runs every base chain hooked at forward, of every table, and a drop in
// any one of them is final. Docker sets iptables' FORWARD policy to DROP,
// and ufw and firewalld's iptables backend drop there too; no rule in
// berth's own table can undo that. So berth also keeps one chain, named
// like its table, in the filter table of each iptables the host uses
// ([HostFilter]: iptables-nft when nftables has an ip filter table,
// iptables-legacy when the kernel's legacy filter table is loaded), jumped
// to from FORWARD, with the narrow accepts libvirt and podman use: within a
// bridge, from a network's subnet leaving by its bridge, and replies and
// DNAT connections to it; an internal network gets only the first. The
// host's policy is never changed, no rule names another interface, and
// berth never makes the filter table itself (where Docker starts after
// berth, the next up or container start adds the chain). The iptables
// programs are used rather than netlink because those tables are
// iptables' own: rules written in nftables' native form into them make
// `iptables -S` (and Docker, which lists them) fail. Each change is one
// `iptables-restore --noflush`; a last rule that changes nothing carries
// the hash of the chain's rules, so checking costs one `iptables -S` per
// iptables when all is in place. Not covered yet: a firewall that drops in
// a native nftables table of its own (firewalld's nftables backend); the
// way to join it is firewalld's D-Bus API, as libvirt and Docker 28 do.
//
// # Published ports
//
// [ParsePorts] reads Docker's -p forms into [PortMapping]s. At each start
// the container's monitor calls [Reserve]: a socket bound and never
// listening on each host port, held for the container's life, so that a
// port taken by any process or container fails the start with Docker's
// "port is already allocated", and the kernel picks the random ports; no
// packet reaches those sockets, since DNAT sends them on before any socket
// lookup. [Store.Publish] writes networks/ports/<container>.json (the
// bindings and the address on the container's first non-internal network)
// and rebuilds the table: DNAT in prerouting (from outside, and from
// containers: hairpin) and in output (the host's own connections), matching
// the bound address or any local one. Connections from 127.0.0.1 need
// route_localnet on the bridge (set when it is made) and a masquerade to
// leave with a source the container can answer.
//
// # The container's side
//
// The container's record keeps the names of its networks and the endpoint
// settings asked for (a static address, MAC, interface name: compose's
// ipv4_address, mac_address, interface_name, network connect --ip), checked
// against each network when the container is made. Each time its monitor
// starts it, the monitor makes the namespace under the run directory
// (/run/berth/<hash>/runc/netns/<id>), takes an address per network (owned
// by the container's ID), attaches a veth per network, publishes its ports,
// and records the endpoints in the container's state. When the container's
// process ends the monitor releases the veths, gives the addresses back and
// removes the namespace, first thing after recording the exit, so that an
// address is held only while a container runs, as in Docker. --network host leaves the
// namespace out; --network container:NAME joins another's.
package netns
