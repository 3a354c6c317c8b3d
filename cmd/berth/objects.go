package main

import "github.com/spf13/cobra"

// The object groups of the Docker CLI (container, image, network, volume,
// system), with Docker's flags. They arrive with the containers, images,
// networks and volumes issues.
func objectCommands(g *globals) []*cobra.Command {
	planned := buildAll(g, []cmdSpec{
		{use: "network", short: "Manage networks", subcommands: []cmdSpec{
			{use: "connect [OPTIONS] NETWORK CONTAINER", short: "Connect a container to a network", flags: []flag{
				list("alias", "", "Add network-scoped alias for the container"),
				s("ip", "", "", "IPv4 address (e.g., \"172.30.100.104\")"),
			}},
			{use: "disconnect [OPTIONS] NETWORK CONTAINER", short: "Disconnect a container from a network", flags: []flag{
				b("force", "f", "Force the container to disconnect from a network"),
			}},
		}},
	})
	// network: the commands that have landed join those still planned
	planned[0].AddCommand(newNetworkCmds(g)...)
	return append([]*cobra.Command{newImageCmd(g), newContainerCmd(g), newVolumeCmd(g), newSystemCmd(g)}, planned...)
}
