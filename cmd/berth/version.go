package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

func newVersionCmd(g *globals) *cobra.Command {
	var format string
	var short bool
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the berth version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case short:
				_, err := fmt.Fprintln(g.stdout, version)
				return err
			case format == "json":
				return json.NewEncoder(g.stdout).Encode(map[string]string{"version": version})
			case format == "" || format == "pretty":
				_, err := fmt.Fprintf(g.stdout, "berth version %s\n", version)
				return err
			}
			return usageError{fmt.Errorf("invalid --format %q: want pretty or json", format)}
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format the output. Values: [pretty | json]. (Default: pretty)")
	cmd.Flags().BoolVar(&short, "short", false, "Shows only Compose's version number")
	return cmd
}
