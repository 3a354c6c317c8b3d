package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/kube"
	"github.com/berth-dev/berth/project"
)

// newConvertCmd is docker compose's convert, an alias of config, plus
// --to kubernetes, which writes the project as Kubernetes manifests.
func newConvertCmd(g *globals) *cobra.Command {
	cmd := newConfigCmd(g)
	cmd.Use = "convert [OPTIONS] [SERVICE...]"
	cmd.Short = "Render the compose file in canonical format (config), or as Kubernetes manifests with --to kubernetes"
	var to string
	var ko kube.Options
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "Convert to this format. Values: [kubernetes]")
	f.StringVar(&ko.Namespace, "namespace", "", "With --to kubernetes: namespace of the objects (default: the project name)")
	addMappingFlags(f, &ko, "With --to kubernetes")
	f.Lookup("output").Usage = "Save to file (default to stdout); with --to kubernetes, a directory of one <kind>-<name>.yaml per object"
	config := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkMapping(cmd, ko, to != "", "--to kubernetes"); err != nil {
			return err
		}
		switch to {
		case "":
			if cmd.Flags().Changed("namespace") {
				return usageError{errors.New("--namespace needs --to kubernetes")}
			}
			return config(cmd, args)
		case "kubernetes":
		default:
			return usageError{fmt.Errorf("--to %q is not a format berth converts to: only kubernetes", to)}
		}
		for _, n := range []string{"format", "quiet", "no-interpolate", "no-normalize", "no-path-resolution", "no-consistency",
			"no-env-resolution", "services", "volumes", "networks", "profiles", "images", "hash", "variables", "environment"} {
			if cmd.Flags().Changed(n) {
				return usageError{fmt.Errorf("--%s cannot be used with --to kubernetes", n)}
			}
		}
		dir, _ := cmd.Flags().GetString("output")
		loading := g.projectOptions()
		loading.Services = args
		// The local engine's warnings (p.Unsupported) are not printed: what
		// the cluster leaves out is kube's to say.
		p, err := project.Load(cmd.Context(), loading)
		if err != nil {
			return err
		}
		if err := p.CheckServices(args...); err != nil {
			return err
		}
		r, err := kube.Convert(p.Project, ko)
		if err != nil {
			return err
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(g.stderr, "warning: %s\n", w)
		}
		if dir == "" {
			return r.WriteYAML(g.stdout)
		}
		return r.WriteDir(dir)
	}
	return cmd
}
