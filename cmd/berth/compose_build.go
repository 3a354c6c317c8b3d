package main

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/build"
	"github.com/berth-dev/berth/project"
)

// newComposeBuildCmd is compose's build: the services' images, built as
// their build: sections say.
func newComposeBuildCmd(g *globals) *cobra.Command {
	var o api.BuildOptions
	var args []string
	var quiet, print bool
	var progress string
	cmd := &cobra.Command{
		Use: "build [OPTIONS] [SERVICE...]", Short: "Build or rebuild services",
		Annotations: map[string]string{stepExit: "yes"},
		RunE: func(cmd *cobra.Command, services []string) error {
			ctx := cmd.Context()
			p, err := g.loadProject(ctx, services...)
			if err != nil {
				return err
			}
			if print {
				return fmt.Errorf("build --print: %w", errNotImplemented)
			}
			if o.Args, err = buildArgs(args); err != nil {
				return err
			}
			mode := g.progress
			if cmd.Flags().Changed("progress") {
				if !slices.Contains(progressModes, progress) {
					return usageError{fmt.Errorf("invalid --progress %q: want one of %v", progress, progressModes)}
				}
				mode = progress
			}
			if quiet {
				mode = "quiet"
			}
			o.Progress = g.buildDisplay(mode)
			e, err := g.engine()
			if err != nil {
				return err
			}
			_, err = e.Build(ctx, p, services, o)
			return err
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&args, "build-arg", nil, "Set build-time variables for services")
	f.BoolVar(&o.NoCache, "no-cache", false, "Do not use cache when building the image")
	f.BoolVar(&o.Pull, "pull", false, "Always attempt to pull a newer version of the image")
	f.BoolVarP(&quiet, "quiet", "q", false, "Don't print anything to STDOUT")
	f.BoolVar(&o.Push, "push", false, "Push service images")
	f.BoolVar(&o.Deps, "with-dependencies", false, "Also build dependencies (transitively)")
	f.BoolVar(&print, "print", false, "Print equivalent bake file")
	f.StringVar(&progress, "progress", "auto", "Set type of ui output (auto, tty, plain, quiet)")
	return cmd
}

// buildDisplay is where builds show their steps, as mode (--progress)
// asks: a live view on a terminal (tty; auto when standard error is one),
// BuildKit's plain lines otherwise, nothing for quiet. Progress goes to
// standard error, as BuildKit's does.
func (g *globals) buildDisplay(mode string) func(service string) io.Writer {
	if mode == "quiet" {
		return nil
	}
	tty := mode == "tty"
	if mode == "auto" {
		f, ok := g.stderr.(*os.File)
		tty = ok && term.IsTerminal(int(f.Fd()))
	}
	// through a view of the terminal, plain lines too: compose's own live
	// view, when there is one, starts afresh below them
	return build.NewDisplay(g.liveView(), tty).Writer
}

// forceBuild gives the services with build: pull_policy build, as up
// --build (and run and create --build) do in docker compose: each is
// built whether its image is here or not.
func forceBuild(p *project.Project) {
	for name, s := range p.Services {
		if s.Build == nil {
			continue
		}
		s.PullPolicy = types.PullPolicyBuild
		p.Services[name] = s
	}
}
