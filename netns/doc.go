// Package netns makes bridge networks through netlink: bridges, veth pairs
// moved into container namespaces, IPAM, and nftables rules (NAT, isolation,
// published ports) in berth's own tables.
//
// So far it holds the IPAM (ipam.go): subnets cut from address pools for
// networks, addresses for endpoints, both persisted in one locked file so
// that concurrent berth processes never hand out the same one; and the
// host's prefixes a new subnet must keep clear of (host.go). Bridges, veths
// and nftables arrive with the rest of the networks issue (issue 5).
package netns
