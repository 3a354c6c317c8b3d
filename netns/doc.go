// Package netns makes bridge networks through netlink: bridges, veth pairs
// moved into container namespaces, IPAM, and nftables rules (NAT, isolation,
// published ports) in berth's own tables.
//
// So far it holds the IPAM (ipam.go): subnets cut from address pools for
// networks, addresses for endpoints, both persisted in one locked file so
// that concurrent berth processes never hand out the same one; the host's
// prefixes a new subnet must keep clear of (host.go); and bridges and the
// veth pairs that put a container's namespace on them (bridge.go); a
// container's namespace made before it (namespace.go); and the network
// records, <root>/networks/<id>.json, that tie a name to its subnet and
// bridge (network.go). Every
// function takes the netlink handle of the namespace it acts in, so tests
// run whole networks inside namespaces of their own. nftables, published
// ports and the wiring into containers arrive with the rest of the networks
// issue (issue 5).
package netns
