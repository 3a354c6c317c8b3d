package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/format"
	"github.com/berth-dev/berth/kube"
)

// projectCmd runs fn with the engine and the project's name (and project,
// when its files load): the shape of every compose command that works from
// labels. services picks the service names out of the arguments: when the
// files load, a name they do not have is an error, as in docker compose.
func (g *globals) projectCmd(services func(args []string) []string, fn func(ctx context.Context, e api.Service, name string, known []string, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		name, p, err := g.projectName(cmd.Context())
		if err != nil {
			return err
		}
		var known []string
		if p != nil {
			known = append(p.ServiceNames(), p.DisabledServiceNames()...)
			if err := p.CheckServices(services(args)...); err != nil {
				return err
			}
		}
		e, err := g.engine()
		if err != nil {
			return err
		}
		return fn(cmd.Context(), e, name, known, args)
	}
}

// Which arguments of a command name services.
func allArgs(args []string) []string { return args }

func firstArg(args []string) []string { return args[:min(len(args), 1)] }

// terminal is the caller's stdin when it is a terminal.
func (g *globals) terminal() *os.File {
	if f, ok := g.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return nil
}

// color reports whether log prefixes are coloured: --ansi always, or auto
// with a terminal on stdout (and NO_COLOR unset), as compose decides.
func (g *globals) color() bool {
	switch g.ansi {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := g.stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
}

// timeoutFlag is -t/--timeout, nil unless given.
func timeoutFlag(cmd *cobra.Command, t int) *int {
	if cmd.Flags().Changed("timeout") {
		return &t
	}
	return nil
}

func newDownCmd(g *globals) *cobra.Command {
	var o api.DownOptions
	var timeout int
	var rmi string
	cmd := &cobra.Command{Use: "down [OPTIONS] [SERVICES]", Short: "Stop and remove containers, networks"}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, known, args []string) error {
		o.Services, o.Known, o.Timeout, o.Images = args, known, timeoutFlag(cmd, timeout), rmi
		return e.Down(ctx, name, o)
	})
	f := cmd.Flags()
	f.BoolVar(&o.RemoveOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	f.StringVar(&rmi, "rmi", "", `Remove images used by services. "local" remove only images that don't have a custom tag ("local"|"all")`)
	f.BoolVarP(&o.Volumes, "volumes", "v", false, `Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers`)
	f.IntVarP(&timeout, "timeout", "t", 0, "Specify a shutdown timeout in seconds")
	return cmd
}

func newStopCmd(g *globals) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{Use: "stop [OPTIONS] [SERVICE...]", Short: "Stop services"}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		return e.Stop(ctx, name, args, timeoutFlag(cmd, timeout))
	})
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Specify a shutdown timeout in seconds")
	return cmd
}

func newStartCmd(g *globals) *cobra.Command {
	var wait bool
	var waitTimeout int
	cmd := &cobra.Command{Use: "start [SERVICE...]", Short: "Start services"}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		if err := e.Start(ctx, name, args); err != nil {
			return err
		}
		if !wait {
			return nil
		}
		if waitTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(waitTimeout)*time.Second)
			defer cancel()
		}
		return e.Wait(ctx, name, args)
	})
	cmd.Flags().BoolVar(&wait, "wait", false, "Wait for services to be running|healthy. Implies detached mode.")
	cmd.Flags().IntVar(&waitTimeout, "wait-timeout", 0, "Maximum duration in seconds to wait for the project to be running|healthy")
	return cmd
}

func newRestartCmd(g *globals) *cobra.Command {
	var timeout int
	var noDeps bool
	cmd := &cobra.Command{Use: "restart [OPTIONS] [SERVICE...]", Short: "Restart service containers"}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		return e.Restart(ctx, name, args, noDeps, timeoutFlag(cmd, timeout))
	})
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Specify a shutdown timeout in seconds")
	cmd.Flags().BoolVar(&noDeps, "no-deps", false, "Don't restart dependent services")
	return cmd
}

// newEachCmd is a command that applies one container operation to the
// project's containers: kill, pause, unpause.
func newEachCmd(g *globals, use, short string, op func(ctx context.Context, e api.Service, name string, services []string, sig string) error) *cobra.Command {
	var sig string
	cmd := &cobra.Command{Use: use, Short: short}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		return op(ctx, e, name, args, sig)
	})
	if strings.HasPrefix(use, "kill") {
		cmd.Flags().StringVarP(&sig, "signal", "s", "SIGKILL", "SIGNAL to send to the container")
		cmd.Flags().Bool("remove-orphans", false, "Remove containers for services not defined in the Compose file")
		markNoEffect(cmd, "remove-orphans")
	}
	return cmd
}

func newRmCmd(g *globals) *cobra.Command {
	var force, stop, vols bool
	cmd := &cobra.Command{Use: "rm [OPTIONS] [SERVICE...]", Short: "Removes stopped service containers"}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		return e.Remove(ctx, name, args, api.RemoveOptions{Stop: stop, Volumes: vols, Confirm: func(names []string) bool {
			if len(names) == 0 {
				fmt.Fprintln(g.stderr, "No stopped containers")
				return false
			}
			msg := "Going to remove " + strings.Join(names, ", ")
			if force {
				// said, not asked, as docker compose does
				fmt.Fprintln(g.stdout, msg)
				return true
			}
			return confirm(g, msg)
		}})
	})
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Don't ask to confirm removal")
	cmd.Flags().BoolVarP(&stop, "stop", "s", false, "Stop the containers, if required, before removing")
	cmd.Flags().BoolVarP(&vols, "volumes", "v", false, "Remove any anonymous volumes attached to containers")
	return cmd
}

func newPsCmd(g *globals) *cobra.Command {
	var all, quiet, services, noTrunc, orphans bool
	var status []string
	var filter, fmtFlag string
	cmd := &cobra.Command{Use: "ps [OPTIONS] [SERVICE...]", Short: "List containers"}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, known, args []string) error {
		if v, ok := strings.CutPrefix(filter, "status="); ok {
			status = append(status, v)
		} else if filter != "" {
			return usageError{fmt.Errorf("invalid filter %q: only status= is supported", filter)}
		}
		if k, ok := e.(*kube.Cluster); ok {
			return g.clusterPs(ctx, k, name, args, fmtFlag, quiet, services)
		}
		// a status asked for looks at every container, one-offs included
		all = all || len(status) > 0
		ms, err := e.Members(ctx, name, args...)
		if err != nil {
			return err
		}
		// compose lists by name
		slices.SortFunc(ms, func(a, b api.Member) int { return strings.Compare(a.Record.Name, b.Record.Name) })
		var rows []any
		seen := map[string]bool{}
		for _, m := range ms {
			if !all && !m.State.Running() || m.Oneoff && !all {
				continue
			}
			if len(status) > 0 && !slices.Contains(status, string(m.State.Status)) {
				continue
			}
			if known != nil && !slices.Contains(known, m.Service) && !m.Oneoff && !orphans {
				continue
			}
			switch {
			case services:
				if !seen[m.Service] {
					seen[m.Service] = true
					fmt.Fprintln(g.stdout, m.Service)
				}
			case quiet:
				fmt.Fprintln(g.stdout, m.Record.ID)
			default:
				rows = append(rows, engine.Ps(m, noTrunc))
			}
		}
		if quiet || services {
			return nil
		}
		t := format.Table{
			Default: "{{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}",
			Headers: map[string]string{"RunningFor": "CREATED", "CreatedAt": "CREATED AT", "ExitCode": "EXIT CODE"},
		}
		return t.Write(g.stdout, fmtFlag, rows)
	})
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "Show all stopped containers (including those created by the run command)")
	f.BoolVarP(&quiet, "quiet", "q", false, "Only display IDs")
	f.BoolVar(&services, "services", false, "Display services")
	f.StringArrayVar(&status, "status", nil, "Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]")
	f.StringVar(&filter, "filter", "", "Filter services by a property (supported filters: status)")
	f.StringVar(&fmtFlag, "format", "table", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
	f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	f.BoolVar(&orphans, "orphans", true, "Include orphaned services (not declared by project)")
	return cmd
}

func newLsCmd(g *globals) *cobra.Command {
	var all, quiet bool
	var fmtFlag, filter string
	cmd := &cobra.Command{Use: "ls [OPTIONS]", Short: "List running compose projects", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			projects, err := e.Projects(cmd.Context(), all)
			if err != nil {
				return err
			}
			var rows []any
			for _, st := range projects {
				if n, ok := strings.CutPrefix(filter, "name="); ok && !strings.Contains(st.Name, n) {
					continue
				}
				if quiet {
					fmt.Fprintln(g.stdout, st.Name)
					continue
				}
				rows = append(rows, st)
			}
			if quiet {
				return nil
			}
			t := format.Table{Default: "{{.Name}}\t{{.Status}}\t{{.ConfigFiles}}", Headers: map[string]string{"ConfigFiles": "CONFIG FILES"}, Array: true}
			return t.Write(g.stdout, fmtFlag, rows)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Show all stopped Compose projects")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display project names")
	cmd.Flags().StringVar(&filter, "filter", "", "Filter output based on conditions provided")
	cmd.Flags().StringVar(&fmtFlag, "format", "table", "Format the output. Values: [table | json]")
	return cmd
}

func newComposeLogsCmd(g *globals) *cobra.Command {
	var o proc.LogOptions
	var lf logFlags
	var index int
	var noColor, noPrefix bool
	cmd := &cobra.Command{Use: "logs [OPTIONS] [SERVICE...]", Short: "View output from containers"}
	cmd.RunE = g.projectCmd(allArgs, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		if err := lf.options(&o); err != nil {
			return err
		}
		// with -f, until every container followed has ended, those that
		// start meanwhile included, as compose's logs -f (on a cluster,
		// whose pods come back, until interrupted)
		return e.Logs(ctx, name, args, api.LogsOptions{LogOptions: o, Index: index},
			&logPrinter{out: g.stdout, err: g.stderr, color: !noColor && g.color(), prefix: !noPrefix})
	})
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "Follow log output")
	f.BoolVarP(&o.Timestamps, "timestamps", "t", false, "Show timestamps")
	f.StringVarP(&lf.tail, "tail", "n", "all", "Number of lines to show from the end of the logs for each container")
	f.StringVar(&lf.since, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.StringVar(&lf.until, "until", "", "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.IntVar(&index, "index", 0, "index of the container if service has multiple replicas")
	f.BoolVar(&noColor, "no-color", false, "Produce monochrome output")
	f.BoolVar(&noPrefix, "no-log-prefix", false, "Don't print prefix in logs")
	return cmd
}

func newComposePortCmd(g *globals) *cobra.Command {
	var index int
	var proto string
	cmd := &cobra.Command{Use: "port [OPTIONS] SERVICE PRIVATE_PORT", Short: "Print the public port for a port binding", Args: exactArgs(2)}
	cmd.RunE = g.projectCmd(firstArg, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		m, err := e.ServiceContainer(ctx, name, args[0], index)
		if err != nil {
			return err
		}
		lines, err := container.PortLines(m.State, args[1]+"/"+proto)
		if err != nil {
			return err
		}
		fmt.Fprintln(g.stdout, lines[0])
		return nil
	})
	cmd.Flags().IntVar(&index, "index", 0, "Index of the container if service has multiple replicas")
	cmd.Flags().StringVar(&proto, "protocol", "tcp", "tcp or udp")
	return cmd
}

func newComposeExecCmd(g *globals) *cobra.Command {
	var o proc.ExecOptions
	var index int
	var noTTY bool
	cmd := &cobra.Command{Use: "exec [OPTIONS] SERVICE COMMAND [ARGS...]", Short: "Execute a command in a running container", Args: cobra.MinimumNArgs(2)}
	cmd.Flags().SetInterspersed(false)
	cmd.RunE = g.projectCmd(firstArg, func(ctx context.Context, e api.Service, name string, _, args []string) error {
		o.Cmd = args[1:]
		o.Stdout, o.Stderr = g.stdout, g.stderr
		if !o.Detach {
			o.Stdin = g.stdin
		}
		// a TTY unless -T, as compose does, when there is a terminal
		if t := g.terminal(); t != nil && !noTTY && !o.Detach {
			o.TTY, o.Terminal = true, t
		}
		code, err := e.Exec(ctx, name, args[0], index, o)
		if err != nil {
			// a paused or stopped container is docker compose's exit 1;
			// so is an error of a cluster's exec, but for a command the
			// image lacks (127, as here)
			if errors.Is(err, container.ErrState) || errors.Is(err, container.ErrNotFound) || g.onCluster() && code == 0 {
				return err
			}
			return runError(code, err)
		}
		return exitWith(code)
	})
	f := cmd.Flags()
	f.BoolVarP(&o.Detach, "detach", "d", false, "Detached mode: Run command in the background")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "Set environment variables")
	f.StringVarP(&o.User, "user", "u", "", "Run the command as this user")
	f.StringVarP(&o.WorkDir, "workdir", "w", "", "Path to workdir directory for this command")
	f.IntVar(&index, "index", 0, "Index of the container if service has multiple replicas")
	f.BoolVar(&o.Privileged, "privileged", false, "Give extended privileges to the process")
	f.BoolVarP(&noTTY, "no-TTY", "T", false, "Disable pseudo-TTY allocation. By default `berth exec` allocates a TTY.")
	composeTTYFlags(f)
	return cmd
}

// composeTTYFlags adds what compose's exec and run accept for docker's
// sake, hidden: -i and -t (`exec -it web sh`), which are what they do
// anyway, and --no-tty, -T's newer spelling.
func composeTTYFlags(f *pflag.FlagSet) {
	if f.Lookup("interactive") == nil {
		f.BoolP("interactive", "i", true, "Keep STDIN open even if not attached")
		f.MarkHidden("interactive")
	}
	f.BoolP("tty", "t", true, "Allocate a pseudo-TTY")
	f.MarkHidden("tty")
	f.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "no-tty" {
			name = "no-TTY"
		}
		return pflag.NormalizedName(name)
	})
}
