package main

import (
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/project"
)

func newConfigCmd(g *globals) *cobra.Command {
	var o project.ConfigOptions
	cmd := &cobra.Command{
		Use:   "config [OPTIONS] [SERVICE...]",
		Short: "Parse, resolve and render compose file in canonical format",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := o
			loading := g.projectOptions()
			loading.NoInterpolate, loading.NoNormalize = o.NoInterpolate, o.NoNormalize
			loading.NoResolvePaths, loading.NoConsistency = o.NoResolvePaths, o.NoConsistency
			loading.NoEnvResolution = o.NoEnvResolution
			opts.Options = loading
			return project.WriteConfig(cmd.Context(), opts, args, g.stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Format, "format", "", "Format the output. Values: [yaml | json]")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "Only validate the configuration, don't print anything")
	f.BoolVar(&o.NoInterpolate, "no-interpolate", false, "Don't interpolate environment variables")
	f.BoolVar(&o.NoNormalize, "no-normalize", false, "Don't normalize compose model")
	f.BoolVar(&o.NoResolvePaths, "no-path-resolution", false, "Don't resolve file paths")
	f.BoolVar(&o.NoConsistency, "no-consistency", false, "Don't check model consistency - warning: may produce invalid Compose output")
	f.BoolVar(&o.NoEnvResolution, "no-env-resolution", false, "Don't resolve service env files")
	f.BoolVar(&o.ListServices, "services", false, "Print the service names, one per line.")
	f.BoolVar(&o.ListVolumes, "volumes", false, "Print the volume names, one per line.")
	f.BoolVar(&o.ListNetworks, "networks", false, "Print the network names, one per line.")
	f.BoolVar(&o.ListProfiles, "profiles", false, "Print the profile names, one per line.")
	f.BoolVar(&o.ListImages, "images", false, "Print the image names, one per line.")
	f.StringVar(&o.Hash, "hash", "", "Print the service config hash, one per line.")
	f.BoolVar(&o.ListVariables, "variables", false, "Print model variables and default values.")
	f.BoolVar(&o.ListEnvironment, "environment", false, "Print environment used for interpolation.")
	f.StringVarP(&o.Output, "output", "o", "", "Save to file (default to stdout)")
	return cmd
}
