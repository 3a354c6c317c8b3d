package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/kube"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/volumes"
	"github.com/berth-dev/berth/watch"
)

// engine opens the compose engine of the root behind the seam every
// project command goes through (api.Service), printing progress and
// warnings on stderr.
// On a Kubernetes context (--context) it is the cluster's.
func (g *globals) engine() (api.Service, error) {
	if g.onCluster() {
		return g.cluster()
	}
	return g.localEngine()
}

// localEngine is the local engine itself, for what only it does: system
// boot, after a reboot of this machine.
func (g *globals) localEngine() (*engine.Engine, error) {
	m, err := g.containers()
	if err != nil {
		return nil, err
	}
	e := engine.New(g.root, m)
	e.Report = g.reporter()
	e.Pulls = g.displayTo(g.stderr)
	e.Warn = func(s string) { fmt.Fprintf(g.stderr, "warning: %s\n", s) }
	return e, nil
}

// loadProject loads the compose project and prints its warnings; services
// named on the command line must be the files' (no such service: NAME).
func (g *globals) loadProject(ctx context.Context, services ...string) (*project.Project, error) {
	p, err := project.Load(ctx, g.projectOptions())
	if err != nil {
		return nil, err
	}
	if err := p.CheckServices(services...); err != nil {
		return nil, err
	}
	g.warn(p)
	return p, nil
}

// projectName is the project a command acts on. As in docker compose, ps,
// logs, stop, down and the like need no compose file: -p NAME (or
// COMPOSE_PROJECT_NAME) names the project and its containers are found by
// their labels. p is the loaded project when there are files to load.
func (g *globals) projectName(ctx context.Context) (name string, p *project.Project, err error) {
	p, err = project.Load(ctx, g.projectOptions())
	if err == nil {
		return p.Name, p, nil
	}
	if g.name != "" {
		return g.name, nil, nil
	}
	if env := os.Getenv("COMPOSE_PROJECT_NAME"); env != "" {
		return env, nil, nil
	}
	return "", nil, err
}

// parseScale reads --scale SERVICE=N values.
func parseScale(values []string) (map[string]int, error) {
	out := map[string]int{}
	for _, v := range values {
		name, num, ok := strings.Cut(v, "=")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 0 {
			return nil, usageError{fmt.Errorf("invalid --scale %q: want SERVICE=NUMBER", v)}
		}
		out[name] = n
	}
	return out, nil
}

func newUpCmd(g *globals, create bool) *cobra.Command {
	var o api.UpOptions
	var detach, wait, abort, abortFailure, noColor, noPrefix, timestamps bool
	var scale []string
	var timeout, waitTimeout int
	var exitFrom, pull string
	var attach, noAttach []string
	var quietPull, attachDeps, watchFiles, buildFlag, noBuild, push bool
	var mapping kube.Options
	use, short := "up [OPTIONS] [SERVICE...]", "Create and start containers"
	if create {
		use, short = "create [OPTIONS] [SERVICE...]", "Creates containers for a service"
	}
	cmd := &cobra.Command{
		Use: use, Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if o.ForceRecreate && o.NoRecreate {
				return usageError{errors.New("--force-recreate and --no-recreate are incompatible")}
			}
			if exitFrom != "" {
				abort = true
			}
			if wait {
				detach = true
			}
			if err := checkMapping(cmd, mapping, g.onCluster(), "--context"); err != nil {
				return err
			}
			if push {
				// up --push is the cluster's: a local up runs the images here
				if noBuild {
					return usageError{errors.New("--push and --no-build are incompatible")}
				}
				if !g.onCluster() {
					return usageError{errors.New("--push needs --context: it pushes the images up builds for a Kubernetes cluster to pull")}
				}
				buildFlag = true
			}
			if g.onCluster() && !create {
				// up on a cluster waits for the rollouts; there is no
				// attached up there yet
				if !detach {
					return kube.Unsupported("up without -d")
				}
				if err := clusterFlags(cmd, append([]string{"detach", "wait", "wait-timeout", "scale", "yes", "build", "push"}, mappingFlags...)...); err != nil {
					return err
				}
				if buildFlag && !push {
					return usageError{errors.New("up --build on a Kubernetes context needs --push: the cluster pulls its images from a registry, not from this machine")}
				}
				wait = true
			}
			if watchFiles && detach {
				return usageError{errors.New("--watch and --detach are incompatible: watch runs while up is attached")}
			}
			if detach && (abort || abortFailure) {
				return usageError{errors.New("--abort-on-container-exit and --abort-on-container-failure are incompatible with --detach")}
			}
			var err error
			if o.Scale, err = parseScale(scale); err != nil {
				return err
			}
			o.Timeout = timeoutFlag(cmd, timeout)
			p, err := g.loadProject(ctx, args...)
			if err != nil {
				return err
			}
			if exitFrom != "" {
				// a project's error, not a usage one: exit 1, as compose
				if err := p.CheckServices(exitFrom); err != nil {
					return err
				}
			}
			if pull != "" && pull != "policy" {
				switch pull {
				case "always", "missing", "never":
				case "build":
				default:
					return usageError{fmt.Errorf("invalid --pull option %q", pull)}
				}
				o.Pull = pull
			}
			if buildFlag && noBuild {
				return usageError{errors.New("--build and --no-build are incompatible")}
			}
			if buildFlag {
				forceBuild(p)
			}
			o.NoBuild = noBuild
			o.Build.Progress = g.buildDisplay(g.progress)
			var rules []watch.Rule
			if watchFiles {
				// refused before anything is made, as compose does
				if rules, err = watch.Rules(p.Project, args...); err != nil {
					return err
				}
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			if k, ok := e.(*kube.Cluster); ok {
				k.Options.PublishAs, k.Options.StorageClass, k.Options.BindAsConfigMap = mapping.PublishAs, mapping.StorageClass, mapping.BindAsConfigMap
			}
			if push {
				if o.Build.Push, err = g.clusterBuilder(e); err != nil {
					return err
				}
			}
			o.QuietPull = quietPull
			o.Services, o.DryRun, o.Parallel, o.NoStart = args, g.dryRun, g.parallel, o.NoStart || create
			wctx := ctx
			if wait && waitTimeout > 0 {
				var cancel context.CancelFunc
				wctx, cancel = context.WithTimeout(ctx, time.Duration(waitTimeout)*time.Second)
				defer cancel()
			}
			upCtx := ctx
			if g.onCluster() {
				// up on a cluster waits too, for the dependencies that
				// depends_on says to wait for: within the same limit
				upCtx = wctx
			}
			if err := e.Up(upCtx, p, o); err != nil {
				return err
			}
			if wait && !o.DryRun && !o.NoStart {
				if err := e.Wait(wctx, p.Name, args); err != nil {
					if errors.Is(err, context.DeadlineExceeded) {
						return fmt.Errorf("timeout waiting for the project to be running|healthy after %ds", waitTimeout)
					}
					return err
				}
			}
			if detach || create || o.DryRun || o.NoStart {
				return nil
			}
			if attachDeps {
				if len(attach) > 0 {
					return usageError{errors.New("--attach and --attach-dependencies are incompatible")}
				}
				// the services asked for and what they depend on; without
				// it, an up of some services shows only theirs
				if graph, err := project.NewGraph(p.Project); err == nil && len(args) > 0 {
					attach = graph.WithDependencies(args...)
				}
			} else if len(attach) == 0 && len(args) > 0 {
				attach = args
			}
			follow := args
			if len(attach) > 0 {
				follow = attach
			} else {
				// a service's attach: false keeps its logs out unless
				// --attach names it
				for _, s := range p.Services {
					if s.Attach != nil && !*s.Attach {
						noAttach = append(noAttach, s.Name)
					}
				}
			}
			if rules != nil {
				wctx, stopWatching := context.WithCancel(ctx)
				defer stopWatching()
				go g.watch(wctx, e, p, rules)
			}
			code, err := e.Attach(ctx, p.Name, api.AttachOptions{Services: follow, Abort: abort, AbortFailure: abortFailure, ExitFrom: exitFrom,
				Attach: attach, NoAttach: noAttach, Timestamps: timestamps, Timeout: o.Timeout},
				&logPrinter{out: g.stdout, err: g.stderr, color: !noColor && g.color(), prefix: !noPrefix})
			if err != nil {
				return err
			}
			return exitWith(code)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.ForceRecreate, "force-recreate", false, "Recreate containers even if their configuration and image haven't changed")
	f.BoolVar(&o.NoRecreate, "no-recreate", false, "If containers already exist, don't recreate them. Incompatible with --force-recreate.")
	f.BoolVar(&o.RemoveOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	f.StringArrayVar(&scale, "scale", nil, "Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present.")
	f.StringVar(&pull, "pull", "policy", `Pull image before running ("always"|"missing"|"never"|"build")`)
	f.BoolVar(&quietPull, "quiet-pull", false, "Pull without printing progress information")
	f.BoolP("yes", "y", false, `Assume "yes" as answer to all prompts and run non-interactively`)
	f.BoolVar(&buildFlag, "build", false, "Build images before starting containers")
	f.BoolVar(&noBuild, "no-build", false, "Don't build an image, even if it's policy")
	if create {
		return cmd
	}
	f.BoolVarP(&detach, "detach", "d", false, "Detached mode: Run containers in the background")
	addMappingFlags(f, &mapping, "With --context")
	f.BoolVar(&push, "push", false, "With --context: build the images (--build) and push them to the registries their names say, for the cluster to pull")
	f.BoolVar(&o.NoStart, "no-start", false, "Don't start the services after creating them")
	f.BoolVar(&o.AlwaysRecreateDeps, "always-recreate-deps", false, "Recreate dependent containers. Incompatible with --no-recreate.")
	f.BoolVar(&o.NoDeps, "no-deps", false, "Don't start linked services")
	f.BoolVar(&wait, "wait", false, "Wait for services to be running|healthy. Implies detached mode.")
	f.IntVar(&waitTimeout, "wait-timeout", 0, "Maximum duration in seconds to wait for the project to be running|healthy")
	f.BoolVar(&abort, "abort-on-container-exit", false, "Stops all containers if any container was stopped. Incompatible with -d")
	f.BoolVar(&abortFailure, "abort-on-container-failure", false, "Stops all containers if any container exited with failure. Incompatible with -d")
	f.StringVar(&exitFrom, "exit-code-from", "", "Return the exit code of the selected service container. Implies --abort-on-container-exit")
	f.StringArrayVar(&attach, "attach", nil, "Restrict attaching to the specified services. Incompatible with --attach-dependencies.")
	f.StringArrayVar(&noAttach, "no-attach", nil, "Do not attach (stream logs) to the specified services")
	f.BoolVar(&attachDeps, "attach-dependencies", false, "Automatically attach to log output of dependent services")
	f.BoolVar(&timestamps, "timestamps", false, "Show timestamps")
	f.BoolVarP(&watchFiles, "watch", "w", false, "Watch source code and rebuild/refresh containers when files are updated.")
	f.BoolVar(&noColor, "no-color", false, "Produce monochrome output")
	f.BoolVar(&noPrefix, "no-log-prefix", false, "Don't print prefix in logs")
	f.BoolVarP(&o.RenewAnonVolumes, "renew-anon-volumes", "V", false, "Recreate anonymous volumes instead of retrieving data from the previous containers")
	f.IntVarP(&timeout, "timeout", "t", 0, "Use this timeout in seconds for container shutdown when attached or when containers are already running")
	return cmd
}

func newRunCmd(g *globals) *cobra.Command {
	var o api.RunOptions
	var detach, noTTY, buildFlag bool
	var entrypoint string
	var env, envFiles, labels, vols, ports []string
	cmd := &cobra.Command{
		Use: "run [OPTIONS] SERVICE [COMMAND] [ARGS...]", Short: "Run a one-off command on a service", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := g.loadProject(ctx, args[0])
			if err != nil {
				return err
			}
			o.Cmd, o.Env, o.Parallel = args[1:], env, g.parallel
			for _, path := range envFiles {
				vars, err := container.ReadEnvFile(path)
				if err != nil {
					return usageError{err}
				}
				o.Env = append(vars, o.Env...) // -e wins over --env-from-file
			}
			if cmd.Flags().Changed("entrypoint") {
				o.Entrypoint = strings.Fields(entrypoint)
			}
			o.Labels, _ = keyValues("--label", labels) // a bare KEY is an empty label
			if o.Volumes, err = parseEach(vols, volumes.ParseVolumeFlag); err != nil {
				return err
			}
			published, err := parseEach(ports, netns.ParsePorts)
			if err != nil {
				return err
			}
			o.Ports = slices.Concat(published...)
			// a TTY when there is a terminal, unless -T, and stdin
			// attached, as compose run does
			term := g.terminal()
			o.TTY = term != nil && !noTTY && !detach
			o.Interactive = o.Interactive || !detach
			e, err := g.engine()
			if err != nil {
				return err
			}
			o.Detach = detach
			if buildFlag {
				forceBuild(p)
			}
			o.Build.Progress = g.buildDisplay(g.progress)
			res, err := e.Run(ctx, p, args[0], o, g.streams())
			switch {
			case err != nil && !res.Prepared:
				return err
			case err != nil:
				// docker run's codes: 125 for berth's own failure, 126
				// and 127 for a command that cannot run
				return runError(res.Code, err)
			case detach:
				fmt.Fprintln(g.stdout, res.Name)
				return nil
			}
			return exitWith(res.Code)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	f.BoolVar(&o.AutoRemove, "rm", false, "Automatically remove the container when it exits")
	f.StringVar(&o.Name, "name", "", "Assign a name to the container")
	f.StringVar(&entrypoint, "entrypoint", "", "Override the entrypoint of the image")
	f.StringArrayVarP(&env, "env", "e", nil, "Set environment variables")
	f.StringArrayVar(&envFiles, "env-from-file", nil, "Set environment variables from file")
	f.StringArrayVarP(&labels, "label", "l", nil, "Add or override a label")
	f.StringVarP(&o.User, "user", "u", "", "Run as specified username or uid")
	f.StringVarP(&o.WorkDir, "workdir", "w", "", "Working directory inside the container")
	f.StringArrayVarP(&vols, "volume", "v", nil, "Bind mount a volume")
	f.StringArrayVarP(&ports, "publish", "p", nil, "Publish a container's port(s) to the host")
	f.BoolVarP(&o.ServicePorts, "service-ports", "P", false, "Run command with all service's ports enabled and mapped to the host")
	f.BoolVar(&o.UseAliases, "use-aliases", false, "Use the service's network useAliases in the network(s) the container connects to")
	f.BoolVar(&o.NoDeps, "no-deps", false, "Don't start linked services")
	f.BoolVarP(&noTTY, "no-TTY", "T", false, "Disable pseudo-TTY allocation (default: auto-detected)")
	f.BoolVarP(&o.Interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	composeTTYFlags(f)
	f.StringArrayVar(&o.CapAdd, "cap-add", nil, "Add Linux capabilities")
	f.StringArrayVar(&o.CapDrop, "cap-drop", nil, "Drop Linux capabilities")
	f.BoolVar(&buildFlag, "build", false, "Build image before starting container")
	f.Bool("remove-orphans", false, "Remove containers for services not defined in the Compose file")
	f.String("pull", "policy", `Pull image before running ("always"|"missing"|"never")`)
	f.Bool("quiet-pull", false, "Pull without printing progress information")
	markNoEffect(cmd, "remove-orphans", "pull", "quiet-pull")
	return cmd
}
