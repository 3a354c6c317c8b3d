package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-dev/berth/build"
	"github.com/berth-dev/berth/container"
)

// newImageBuildCmd is `image build`, docker build's core flags. The
// top-level `build` is compose's, for services, unless its arguments are
// docker build's (dockerBuild in main.go turns them into image build's).
func newImageBuildCmd(g *globals) *cobra.Command {
	var o build.Options
	var file, iidfile, shmSize string
	var args, labels, addHosts, ulimits, secrets, outputSpecs, platforms, cacheTo, contexts []string
	var quiet bool
	var progress string
	cmd := &cobra.Command{
		Use:         "build [OPTIONS] PATH",
		Short:       "Build an image from a Dockerfile",
		Annotations: map[string]string{stepExit: "yes"},
		Args:        exactArgs(1),
		RunE: func(cmd *cobra.Command, pos []string) error {
			context := pos[0]
			switch {
			case context == "-":
				return usageError{errors.New("a build context on standard input is not supported by berth yet: give a directory")}
			case strings.Contains(context, "://") || strings.HasPrefix(context, "git@"):
				return usageError{fmt.Errorf("a remote build context (%s) is not supported by berth yet: give a directory", context)}
			}
			var err error
			if o.ContextDir, err = filepath.Abs(context); err != nil {
				return err
			}
			switch file {
			case "":
			case "-":
				if o.DockerfileInline, err = io.ReadAll(g.stdin); err != nil {
					return fmt.Errorf("reading the Dockerfile from standard input: %w", err)
				}
			default:
				// relative to where berth runs, as docker build's -f
				if o.Dockerfile, err = filepath.Abs(file); err != nil {
					return err
				}
			}
			if o.BuildArgs, err = buildArgs(args); err != nil {
				return err
			}
			if o.Labels, err = buildArgs(labels); err != nil {
				return err
			}
			if err := runFlags(&o.RunOptions, addHosts, ulimits, secrets, shmSize); err != nil {
				return err
			}
			if o.Contexts, err = build.ParseContexts(contexts); err != nil {
				return usageError{err}
			}
			if err := build.CheckPlatforms(platforms); err != nil {
				return usageError{err}
			}
			for _, c := range cacheTo {
				if err := build.ParseCacheTo(c); err != nil {
					return usageError{err}
				}
				o.InlineCache = true
			}
			outputs, err := buildOutputs(g, outputSpecs, quiet)
			if err != nil {
				return err
			}
			o.Root = g.root
			mode := g.progress
			if cmd.Flags().Changed("progress") {
				if !slices.Contains(progressModes, progress) {
					return usageError{fmt.Errorf("invalid --progress %q: want one of %v", progress, progressModes)}
				}
				mode = progress
			}
			if show := g.buildDisplay(mode); show != nil && !quiet {
				// BuildKit's progress goes to standard error
				o.Progress = show("")
				o.Pull = g.displayTo(g.stderr)
			}
			res, err := build.Build(cmd.Context(), o)
			if err != nil {
				return err
			}
			if iidfile != "" {
				if err := os.WriteFile(iidfile, []byte(res.ID.String()), 0o644); err != nil {
					return fmt.Errorf("writing the image ID to %q: %w", iidfile, err)
				}
			}
			if err := writeOutputs(g, cmd, res, outputs, len(o.Tags) > 0); err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(g.stdout, res.ID)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.Tags, "tag", "t", nil, `Name and optionally a tag (format: "name:tag")`)
	f.StringVarP(&file, "file", "f", "", `Name of the Dockerfile (default: "PATH/Dockerfile")`)
	f.StringArrayVar(&args, "build-arg", nil, "Set build-time variables")
	f.StringArrayVar(&labels, "label", nil, "Set metadata for an image")
	f.StringArrayVar(&contexts, "build-context", nil, "Additional build contexts (e.g., name=path)")
	f.StringVar(&o.Target, "target", "", "Set the target build stage to build")
	f.StringVar(&iidfile, "iidfile", "", "Write the image ID to a file")
	f.BoolVarP(&quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	f.StringVar(&o.Network, "network", "default", `Set the networking mode for the RUN instructions during build ("default", "none", "host")`)
	f.StringArrayVar(&addHosts, "add-host", nil, `Add a custom host-to-IP mapping ("host:ip")`)
	f.StringVar(&shmSize, "shm-size", "", "Shared memory size for build containers")
	f.StringArrayVar(&ulimits, "ulimit", nil, "Ulimit options")
	f.StringArrayVar(&secrets, "secret", nil, `Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")`)
	f.StringArrayVar(&o.Allow, "allow", nil, `Allow extra privileged entitlement (e.g., "network.host", "security.insecure")`)
	f.BoolVar(&o.NoCache, "no-cache", false, "Do not use cache when building the image")
	f.StringArrayVar(&o.NoCacheFilter, "no-cache-filter", nil, "Do not cache specified stages")
	f.BoolVar(&o.AlwaysPull, "pull", false, "Always attempt to pull all referenced images")
	f.StringVar(&progress, "progress", "auto", `Set type of progress output ("auto", "plain", "tty", "quiet")`)
	f.StringArrayVarP(&outputSpecs, "output", "o", nil, `Output destination (format: "type=docker|oci|tar|local,dest=path")`)
	f.StringArrayVar(&platforms, "platform", nil, "Set target platform for build (this machine's only)")
	f.StringArrayVar(&o.CacheFrom, "cache-from", nil, `External cache sources: images here (e.g., "user/app:cache", "type=registry,ref=user/app")`)
	f.StringArrayVar(&cacheTo, "cache-to", nil, `Cache export destinations: "type=inline" (the image's config names its steps, for --cache-from)`)
	return cmd
}

// buildOutputs reads the -o values; standard output is refused on a
// terminal, as buildx refuses it, and beside -q, which prints there.
func buildOutputs(g *globals, specs []string, quiet bool) ([]build.Output, error) {
	var outs []build.Output
	for _, spec := range specs {
		out, err := build.ParseOutput(spec)
		if err != nil {
			return nil, usageError{err}
		}
		if out.Stdout() {
			if quiet {
				return nil, usageError{fmt.Errorf("output %q writes to standard output, where -q prints the image ID: give dest=FILE", spec)}
			}
			if f, ok := g.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return nil, usageError{fmt.Errorf("output %q would write to the terminal: give dest=FILE or redirect", spec)}
			}
		}
		outs = append(outs, out)
	}
	return outs, nil
}

// writeOutputs sends the image built to the -o outputs; without -t (and
// without type=docker to the store) the image is then not kept, as
// buildx's exporters leave no image in Docker's store.
func writeOutputs(g *globals, cmd *cobra.Command, res build.Result, outs []build.Output, tagged bool) error {
	keep := tagged || len(outs) == 0
	for _, out := range outs {
		if err := build.WriteOutput(cmd.Context(), g.root, res.ID, res.Names, out, g.stdout); err != nil {
			return err
		}
		keep = keep || out.Stores()
	}
	if keep {
		return nil
	}
	m, err := g.containers()
	if err != nil {
		return err
	}
	return build.Discard(cmd.Context(), g.root, res.ID, m.ImageInUse, m.SnapshotsInUse)
}

// runFlags reads the flags that say how RUN steps run, with docker
// run's parsers where docker build shares its flags.
func runFlags(o *build.RunOptions, addHosts, ulimits, secrets []string, shmSize string) error {
	for _, h := range addHosts {
		e, err := container.ParseAddHost(h)
		if err != nil {
			return usageError{err}
		}
		o.ExtraHosts = append(o.ExtraHosts, e.String())
	}
	for _, u := range ulimits {
		l, err := container.ParseUlimit(u)
		if err != nil {
			return usageError{err}
		}
		o.Ulimits = append(o.Ulimits, build.Ulimit{Name: strings.ToLower(strings.TrimPrefix(l.Type, "RLIMIT_")), Soft: int64(l.Soft), Hard: int64(l.Hard)})
	}
	for _, s := range secrets {
		sec, err := build.ParseSecret(s)
		if err != nil {
			return usageError{err}
		}
		o.Secrets = append(o.Secrets, sec)
	}
	if shmSize != "" {
		n, err := units.RAMInBytes(shmSize)
		if err != nil || n <= 0 {
			return usageError{fmt.Errorf("invalid --shm-size %q: want a size such as 64m", shmSize)}
		}
		o.ShmSize = n
	}
	return nil
}

// buildArgs reads KEY=VALUE flags; a KEY alone takes its value from the
// environment and is left out where it has none, as docker build does.
func buildArgs(list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, usageError{fmt.Errorf("invalid argument %q: want KEY=VALUE", kv)}
		}
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}
