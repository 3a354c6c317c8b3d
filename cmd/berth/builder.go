package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/build"
)

// newBuilderCmd is docker's `builder` group: the build cache.
func newBuilderCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "builder", Short: "Manage builds"}
	cmd.AddCommand(newBuilderPruneCmd(g))
	return cmd
}

func newBuilderPruneCmd(g *globals) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove build cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(filters) > 0 {
				return usageError{fmt.Errorf("--filter is not supported by builder prune yet")}
			}
			warning := "WARNING! This will remove all dangling build cache."
			if all {
				warning = "WARNING! This will remove all build cache."
			}
			if !force && !confirm(g, warning) {
				return nil
			}
			freed, err := pruneBuildCache(cmd, g, all)
			fmt.Fprintf(g.stdout, "Total reclaimed space: %s\n", humanBytes(freed))
			return err
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused build cache, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values")
	return cmd
}

// pruneBuildCache removes the build cache (all of it, or the entries no
// image has a layer of) and prints Docker's "Deleted build cache
// objects:" block.
func pruneBuildCache(cmd *cobra.Command, g *globals, all bool) (int64, error) {
	images, _, err := g.openImages()
	if err != nil {
		return 0, err
	}
	ids, freed, err := build.PruneCache(cmd.Context(), g.root, build.PruneOptions{All: all, InImage: images.HasBlob})
	printDeleted(g, "build cache objects", ids)
	return freed, err
}
