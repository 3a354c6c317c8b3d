package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/format"
)

// The smaller compose commands: each is a container command applied to a
// service's containers.

func newComposeTopCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "top [SERVICES...]", Short: "Display the running processes"}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		list, err := e.Top(ctx, name, args)
		if err != nil {
			return err
		}
		var tops []format.ContainerTop
		for _, c := range list {
			tops = append(tops, format.ContainerTop{Service: c.Service, Replica: strconv.Itoa(c.Number), Titles: c.Titles, Processes: c.Processes.Processes})
		}
		return format.ComposeTop(g.stdout, tops)
	})
	return cmd
}

func newComposeImagesCmd(g *globals) *cobra.Command {
	var quiet bool
	var fmtFlag string
	cmd := &cobra.Command{Use: "images [OPTIONS] [SERVICE...]", Short: "List images used by the created containers"}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		list, err := e.Images(ctx, name, args)
		if err != nil {
			return err
		}
		type row struct{ ContainerName, Repository, Tag, ID, Size string }
		var rows []any
		for _, im := range list {
			if quiet {
				fmt.Fprintln(g.stdout, im.ID)
				continue
			}
			size := ""
			if im.Size >= 0 {
				size = units.HumanSizeWithPrecision(float64(im.Size), 3)
			}
			rows = append(rows, row{im.Container, im.Repository, im.Tag, shortID(im.ID), size})
		}
		if quiet {
			return nil
		}
		t := format.Table{Default: "{{.ContainerName}}\t{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}",
			Headers: map[string]string{"ContainerName": "CONTAINER", "ID": "IMAGE ID"}, Array: true}
		return t.Write(g.stdout, fmtFlag, rows)
	})
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display IDs")
	cmd.Flags().StringVar(&fmtFlag, "format", "table", "Format the output. Values: [table | json]")
	return cmd
}

func newComposePullCmd(g *globals) *cobra.Command {
	var ignoreFailures, quiet bool
	var policy string
	cmd := &cobra.Command{Use: "pull [OPTIONS] [SERVICE...]", Short: "Pull service images",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := g.loadProject(ctx, args...)
			if err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			return e.Pull(ctx, p, args, api.PullOptions{Policy: policy, IgnoreFailures: ignoreFailures, Progress: g.display(quiet)})
		},
	}
	cmd.Flags().BoolVar(&ignoreFailures, "ignore-pull-failures", false, "Pull what it can and ignores images with pull failures")
	cmd.Flags().Bool("include-deps", false, "Also pull services declared as dependencies")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Pull without printing progress information")
	cmd.Flags().StringVar(&policy, "policy", "", `Apply pull policy ("missing"|"always")`)
	cmd.Flags().Bool("ignore-buildable", false, "Ignore images that can be built")
	markNoEffect(cmd, "include-deps", "ignore-buildable")
	return cmd
}

func newComposePushCmd(g *globals) *cobra.Command {
	var ignoreFailures, quiet bool
	cmd := &cobra.Command{Use: "push [OPTIONS] [SERVICE...]", Short: "Push service images",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := g.loadProject(ctx, args...)
			if err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			return e.Push(ctx, p, args, api.PushOptions{IgnoreFailures: ignoreFailures, Progress: g.display(quiet)})
		},
	}
	cmd.Flags().BoolVar(&ignoreFailures, "ignore-push-failures", false, "Push what it can and ignores images with push failures")
	cmd.Flags().Bool("include-deps", false, "Also push images of services declared as dependencies")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Push without printing progress information")
	markNoEffect(cmd, "include-deps")
	return cmd
}

func newComposeCpCmd(g *globals) *cobra.Command {
	var o proc.CopyOptions
	var index int
	var all bool
	cmd := &cobra.Command{Use: "cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH",
		Short: "Copy files/folders between a service container and the local filesystem", Args: exactArgs(2)}
	cmd.RunE = g.projectCmd(cpServices, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		o.Stdin, o.Stdout = g.stdin, g.stdout
		return e.Copy(ctx, name, args[0], args[1], index, o)
	})
	cmd.Flags().BoolVarP(&o.Archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	cmd.Flags().BoolVarP(&o.FollowLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	cmd.Flags().IntVar(&index, "index", 0, "Index of the container if service has multiple replicas")
	cmd.Flags().BoolVar(&all, "all", false, "Include containers created by the run command")
	markNoEffect(cmd, "all")
	return cmd
}

// cpServices is the service of cp's SERVICE:PATH argument.
func cpServices(args []string) []string {
	for _, a := range args {
		if svc, _, ok := engine.CopyService(a); ok {
			return []string{svc}
		}
	}
	return nil
}

func newComposeWaitCmd(g *globals) *cobra.Command {
	var downProject bool
	cmd := &cobra.Command{Use: "wait SERVICE [SERVICE...] [OPTIONS]", Short: "Block until containers of all (or specified) services stop.", Args: cobra.MinimumNArgs(1)}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		code := 0
		// --down-project: the first exit ends the wait, and the project
		errDowned := errors.New("downed")
		err := e.WaitExits(ctx, name, args, func(_ api.Member, c int) error {
			fmt.Fprintln(g.stdout, c)
			code = max(code, c)
			if !downProject {
				return nil
			}
			if err := e.Down(ctx, name, api.DownOptions{}); err != nil {
				return err
			}
			return errDowned
		})
		switch {
		case errors.Is(err, errDowned):
			return nil
		case err != nil:
			return err
		}
		return exitWith(code)
	})
	cmd.Flags().BoolVar(&downProject, "down-project", false, "Drops project when the first container stops")
	return cmd
}

func newComposeScaleCmd(g *globals) *cobra.Command {
	var noDeps bool
	cmd := &cobra.Command{Use: "scale [SERVICE=REPLICAS...]", Short: "Scale services", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			scale, err := parseScale(args)
			if err != nil {
				return err
			}
			p, err := g.loadProject(cmd.Context())
			if err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			var services []string
			for s := range scale {
				services = append(services, s)
			}
			return e.Up(cmd.Context(), p, api.UpOptions{Services: services, Scale: scale, NoDeps: noDeps, NoRecreate: true, Parallel: g.parallel, DryRun: g.dryRun})
		},
	}
	cmd.Flags().BoolVar(&noDeps, "no-deps", false, "Don't start linked services")
	return cmd
}

func newComposeStatsCmd(g *globals) *cobra.Command {
	var all, noStream bool
	var fmtFlag string
	cmd := &cobra.Command{Use: "stats [OPTIONS] [SERVICE]", Short: "Display a live stream of container(s) resource usage statistics"}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		o := api.StatsOptions{Services: args, All: all}
		rows, err := e.Stats(ctx, name, o)
		if err != nil || rows == nil {
			return err // nothing to show: nothing printed
		}
		// the first sample is shown, the later ones redrawn over it
		return g.statsLoop(ctx, func(ctx context.Context) ([]proc.StatsRow, error) {
			if first := rows; first != nil {
				rows = nil
				return first, nil
			}
			return e.Stats(ctx, name, o)
		}, noStream, fmtFlag)
	})
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	cmd.Flags().StringVar(&fmtFlag, "format", "", "Format output using a custom template")
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	cmd.Flags().Bool("no-trunc", false, "Do not truncate output")
	markNoEffect(cmd, "no-trunc")
	return cmd
}

func newComposeAttachCmd(g *globals) *cobra.Command {
	var index int
	var noStdin, sigProxy bool
	cmd := &cobra.Command{Use: "attach [OPTIONS] SERVICE", Short: "Attach local standard input, output, and error streams to a service's running container", Args: exactArgs(1)}
	cmd.RunE = g.projectCmd(firstArg, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		code, err := e.AttachContainer(ctx, name, args[0], index, proc.AttachOptions{NoStdin: noStdin, SigProxy: sigProxy, Stdin: g.stdin, Stdout: g.stdout, Stderr: g.stderr})
		if err != nil {
			return err
		}
		return exitWith(code)
	})
	cmd.Flags().IntVar(&index, "index", 0, "index of the container if service has multiple replicas.")
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	cmd.Flags().String("detach-keys", "", "Override the key sequence for detaching from a container.")
	markNoEffect(cmd, "detach-keys")
	return cmd
}

func newComposeEventsCmd(g *globals) *cobra.Command {
	var asJSON bool
	var since, until string
	cmd := &cobra.Command{Use: "events [OPTIONS] [SERVICE...]", Short: "Receive real time events from containers"}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		if since != "" {
			return usageError{errors.New("--since is not supported: berth keeps no event history")}
		}
		if until != "" {
			t, err := parseTime(until, "until")
			if err != nil {
				return err
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, t)
			defer cancel()
		}
		enc := json.NewEncoder(g.stdout)
		return e.Events(ctx, name, args, func(ev api.Event) error {
			if asJSON {
				return enc.Encode(ev)
			}
			_, err := fmt.Fprintln(g.stdout, ev)
			return err
		})
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "Output events as a stream of json objects")
	cmd.Flags().StringVar(&since, "since", "", "Show all events created since timestamp")
	cmd.Flags().StringVar(&until, "until", "", "Stream events until this timestamp")
	return cmd
}
