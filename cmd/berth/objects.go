package main

import "github.com/spf13/cobra"

// The object groups of the Docker CLI (container, image, network, volume,
// system, builder), with Docker's flags.
func objectCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newImageCmd(g), newContainerCmd(g), newVolumeCmd(g), newNetworkCmd(g), newSystemCmd(g), newBuilderCmd(g)}
}
