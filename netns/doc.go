// Package netns makes bridge networks through netlink: bridges, veth pairs
// moved into container namespaces, IPAM, and nftables rules (NAT, isolation,
// published ports) in berth's own tables.
//
// Empty until the networks issue (issue 5).
package netns
