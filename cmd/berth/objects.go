package main

import "github.com/spf13/cobra"

// The object groups of the Docker CLI (container, image, network, volume,
// system), with Docker's flags. They arrive with the containers, images,
// networks and volumes issues.
func objectCommands(g *globals) []*cobra.Command {
	format := s("format", "", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
	filter := list("filter", "", "Provide filter values")
	quiet := b("quiet", "q", "Only display IDs")
	force := b("force", "f", "Do not prompt for confirmation")
	return append([]*cobra.Command{newImageCmd(g), newContainerCmd(g), newVolumeCmd(g), newSystemCmd(g)}, buildAll(g, []cmdSpec{
		{use: "network", short: "Manage networks", subcommands: []cmdSpec{
			{use: "create [OPTIONS] NETWORK", short: "Create a network", flags: []flag{
				s("driver", "d", "bridge", "Driver to manage the Network"),
				list("subnet", "", "Subnet in CIDR format that represents a network segment"),
				list("gateway", "", "IPv4 or IPv6 Gateway for the master subnet"),
				list("ip-range", "", "Allocate container ip from a sub-range"),
				b("internal", "", "Restrict external access to the network"),
				list("label", "", "Set metadata on a network"),
				list("opt", "o", "Set driver specific options"),
			}},
			{use: "ls [OPTIONS]", short: "List networks", aliases: []string{"list"}, flags: []flag{quiet, filter, format, b("no-trunc", "", "Do not truncate the output")}},
			{use: "inspect [OPTIONS] NETWORK [NETWORK...]", short: "Display detailed information on one or more networks", flags: []flag{s("format", "f", "", "Format output using a custom template")}},
			{use: "rm NETWORK [NETWORK...]", short: "Remove one or more networks", aliases: []string{"remove"}, flags: []flag{b("force", "f", "Do not error if the network does not exist")}},
			{use: "prune [OPTIONS]", short: "Remove all unused networks", flags: []flag{filter, force}},
			{use: "connect [OPTIONS] NETWORK CONTAINER", short: "Connect a container to a network", flags: []flag{
				list("alias", "", "Add network-scoped alias for the container"),
				s("ip", "", "", "IPv4 address (e.g., \"172.30.100.104\")"),
			}},
			{use: "disconnect [OPTIONS] NETWORK CONTAINER", short: "Disconnect a container from a network", flags: []flag{
				b("force", "f", "Force the container to disconnect from a network"),
			}},
		}},
	})...)
}
