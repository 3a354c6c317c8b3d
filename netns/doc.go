// Package netns makes bridge networks: bridges, veth pairs moved into
// container namespaces, IPAM, and nftables rules (NAT, isolation, published
// ports) in berth's own table.
//
//   - ipam.go: subnets cut from address pools for networks and addresses
//     for endpoints, persisted in one locked file so that concurrent berth
//     processes never hand out the same one;
//   - host.go: the host's prefixes a new subnet must keep clear of;
//   - bridge.go: bridges, and the veth pairs that put a container's
//     namespace on them;
//   - namespace.go: a container's network namespace, made before it;
//   - network.go: the network records, <root>/networks/<id>.json, tying a
//     name to its subnet, bridge and firewall rules;
//   - firewall.go: the nftables table that gives networks NAT, keeps
//     them apart and publishes ports;
//   - filter.go: berth's chain in the host's iptables filter table, which
//     lets its bridges' traffic through where Docker, ufw or firewalld
//     drop forwarded packets;
//   - ports.go: published ports: parsing Docker's -p forms, holding host
//     ports, and the per-container records the firewall is built from;
//   - inside.go: acting inside a container's namespace: Do, and the DNS
//     redirect to its resolver.
//
// Every function takes the netlink handle (or nftables connection) of the
// namespace it acts in, so tests run whole networks inside namespaces of
// their own; OpenHost is the Store berth itself uses, on the host.
package netns
