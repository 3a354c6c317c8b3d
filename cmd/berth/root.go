package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/project"
)

// globals are the flags every command takes: docker compose's global flags
// plus --root, where berth keeps its state.
type globals struct {
	files      []string
	name       string
	projectDir string
	profiles   []string
	envFiles   []string
	parallel   int
	progress   string
	ansi       string
	dryRun     bool
	root       string
	// context is the Kubernetes context the project commands act on
	// (--context, BERTH_CONTEXT); "" is this machine.
	context string

	stdin          io.Reader
	stdout, stderr io.Writer
	term           *liveTerm // stderr as the live views share it
}

// projectOptions are the loading options the global flags ask for.
func (g *globals) projectOptions() project.Options {
	profiles := g.profiles
	if len(profiles) == 0 {
		profiles = project.EnvList("COMPOSE_PROFILES")
	}
	return project.Options{
		Files:      g.files,
		Name:       g.name,
		ProjectDir: g.projectDir,
		EnvFiles:   g.envFiles,
		Profiles:   profiles,
		// beside the state the files are run with
		ValidatedCache: filepath.Join(g.root, "cache", "validated"),
	}
}

// warn prints one line per key of p that berth does not honour yet.
func (g *globals) warn(p *project.Project) {
	for _, u := range p.Unsupported {
		fmt.Fprintf(g.stderr, "warning: %s\n", u)
	}
}

// noEffect annotates a flag berth accepts, for docker compose's command
// lines, but does not act on yet; using it prints a warning.
const noEffect = "berth-no-effect"

// markNoEffect marks flags of cmd as noEffect.
func markNoEffect(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		cmd.Flags().SetAnnotation(n, noEffect, []string{"true"})
	}
}

var (
	progressModes = []string{"auto", "tty", "plain", "json", "quiet"}
	ansiModes     = []string{"never", "always", "auto"}
)

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "berth",
		Short: "Run compose projects without a Docker daemon",
		Long: "berth runs the stack a compose.yaml describes, as docker compose would,\n" +
			"with its own container runtime, networks, DNS and volumes: no daemon.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkCluster(cmd); err != nil {
				return err
			}
			if os.Geteuid() != 0 && needsRoot(cmd) && !g.onCluster() {
				// said at once, not as the first lchown or mount that fails
				return fmt.Errorf("%q needs root: run it as root, with sudo; rootless mode is not supported yet", cmd.CommandPath())
			}
			if !slices.Contains(progressModes, g.progress) {
				return usageError{fmt.Errorf("invalid --progress %q: want one of %v", g.progress, progressModes)}
			}
			if !slices.Contains(ansiModes, g.ansi) {
				return usageError{fmt.Errorf("invalid --ansi %q: want one of %v", g.ansi, ansiModes)}
			}
			n, err := project.ParallelLimit(g.parallel, cmd.Root().Flags().Changed("parallel"))
			if err != nil {
				return usageError{err}
			}
			g.parallel = n
			// flags taken for compatibility that berth cannot honour yet
			// are said so, never ignored in silence
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if _, ok := f.Annotations[noEffect]; ok {
					fmt.Fprintf(g.stderr, "warning: %s --%s is not supported by berth yet and has no effect\n", cmd.Name(), f.Name)
				}
			})
			return nil
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})

	// As in docker compose, the global flags go before the command
	// (berth -f x.yaml up): commands keep their own short flags (-f for
	// logs --follow, rm --force, version --format) free.
	root.TraverseChildren = true
	f := root.Flags()
	f.StringArrayVarP(&g.files, "file", "f", nil, "Compose configuration files")
	f.StringVarP(&g.name, "project-name", "p", "", "Project name")
	f.StringVar(&g.projectDir, "project-directory", "", "Specify an alternate working directory\n(default: the path of the, first specified, Compose file)")
	f.StringArrayVar(&g.profiles, "profile", nil, "Specify a profile to enable")
	f.StringArrayVar(&g.envFiles, "env-file", nil, "Specify an alternate environment file")
	f.IntVar(&g.parallel, "parallel", -1, "Control max parallelism, -1 for unlimited")
	f.StringVar(&g.progress, "progress", envOr("COMPOSE_PROGRESS", "auto"), "Set type of progress output (auto, tty, plain, json, quiet)")
	f.StringVar(&g.ansi, "ansi", envOr("COMPOSE_ANSI", "auto"), `Control when to print ANSI control characters ("never"|"always"|"auto")`)
	f.BoolVar(&g.dryRun, "dry-run", false, "Execute command in dry run mode")
	f.StringVar(&g.root, "root", envOr("BERTH_ROOT", "/var/lib/berth"), "Where berth keeps its state (env BERTH_ROOT)")
	f.StringVar(&g.context, "context", os.Getenv("BERTH_CONTEXT"), "Kubernetes context (of KUBECONFIG or ~/.kube/config) to run the project on (env BERTH_CONTEXT)")

	root.AddCommand(newConfigCmd(g), newConvertCmd(g), newVersionCmd(g), newMonitorCmd(g), newProbeCmd(g))
	root.AddCommand(composeCommands(g)...)
	root.AddCommand(objectCommands(g)...)
	refuseUnknown(root)
	return root
}

// needsRoot says whether cmd acts on berth's state, which only root can:
// all but help, version and config (which only reads the compose files),
// and berth's hidden commands, which berth itself runs where it knows.
func needsRoot(cmd *cobra.Command) bool {
	if cmd.Hidden || !cmd.HasParent() {
		return false
	}
	switch cmd.Name() {
	case "version", "config", "help", "completion":
		return false
	}
	return true
}

// refuseUnknown gives root and each group of commands (container, image,
// ...) a run that fails on a word that is none of its commands: without
// one, cobra answers a mistyped command with the help and exit 0. As in
// docker compose, the help is printed and the command fails.
func refuseUnknown(cmd *cobra.Command) {
	if !cmd.HasSubCommands() {
		return
	}
	if cmd.Run == nil && cmd.RunE == nil {
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			_ = cmd.Help()
			name := strings.TrimPrefix(cmd.CommandPath()+" "+args[0], cmd.Root().Name()+" ")
			return fmt.Errorf("unknown berth command: %q", name)
		}
	}
	for _, c := range cmd.Commands() {
		refuseUnknown(c)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
