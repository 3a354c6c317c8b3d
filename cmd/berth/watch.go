package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/watch"
)

func newWatchCmd(g *globals) *cobra.Command {
	var noUp bool
	cmd := &cobra.Command{
		Use:   "watch [SERVICE...]",
		Short: "Watch build context for service and rebuild/refresh containers when files are updated",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := g.loadProject(ctx, args...)
			if err != nil {
				return err
			}
			// the rules first: a project that cannot be watched is refused
			// before anything is made
			rules, err := watch.Rules(p.Project, args...)
			if err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			if !noUp {
				if err := e.Up(ctx, p, api.UpOptions{Services: args, Parallel: g.parallel}); err != nil {
					return err
				}
			}
			return g.watch(ctx, e, p, rules)
		},
	}
	cmd.Flags().BoolVar(&noUp, "no-up", false, "Do not build & start services before watching")
	cmd.Flags().Bool("prune", false, "Prune dangling images on rebuild")
	cmd.Flags().Bool("quiet", false, "hide build output")
	markNoEffect(cmd, "prune", "quiet") // both are about builds, which berth has not yet
	return cmd
}

// watch keeps the project's containers in step with their develop.watch
// rules until ctx ends, printing what it does as compose does, after a
// "⦿" of its own.
func (g *globals) watch(ctx context.Context, e api.Service, p *project.Project, rules []watch.Rule) error {
	return e.Watch(ctx, p, rules, api.WatchOptions{Stdout: g.stdout, Stderr: g.stderr,
		Log: func(s string) { fmt.Fprintf(g.stdout, "⦿ %s\n", s) }})
}
