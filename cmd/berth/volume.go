package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/format"
	"github.com/berth-dev/berth/match"
	"github.com/berth-dev/berth/volumes"
)

func newVolumeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	cmd.AddCommand(newVolumeCreateCmd(g), newVolumeLsCmd(g), newVolumeInspectCmd(g), newVolumeRmCmd(g), newVolumePruneCmd(g))
	return cmd
}

// keyValues reads repeated KEY=VALUE flags.
func keyValues(flag string, list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok && flag == "--opt" {
			return nil, usageError{fmt.Errorf("invalid %s %q: want KEY=VALUE", flag, kv)}
		}
		out[k] = v
	}
	return out, nil
}

func newVolumeCreateCmd(g *globals) *cobra.Command {
	var driver string
	var opts, labels []string
	cmd := &cobra.Command{
		Use: "create [OPTIONS] [VOLUME]", Short: "Create a volume", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := volumes.CreateOptions{Driver: driver}
			var err error
			if o.Options, err = keyValues("--opt", opts); err != nil {
				return err
			}
			if o.Labels, err = keyValues("--label", labels); err != nil {
				return err
			}
			m, err := g.containers()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			v, err := m.Volumes.Create(cmd.Context(), name, o)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(g.stdout, v.Name)
			return err
		},
	}
	cmd.Flags().StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	cmd.Flags().StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "Set metadata for a volume")
	return cmd
}

// volumeRow is one row of `volume ls`, with Docker's field names.
type volumeRow struct {
	labelled
	Driver, Name, Mountpoint, Scope, Labels, CreatedAt string
	Links                                              string
}

func newVolumeLsCmd(g *globals) *cobra.Command {
	var quiet bool
	var filters []string
	var fmtFlag string
	cmd := &cobra.Command{
		Use: "ls [OPTIONS]", Aliases: []string{"list"}, Short: "List volumes", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			all, err := m.Volumes.List()
			if err != nil {
				return err
			}
			inUse, err := m.VolumesInUse()
			if err != nil {
				return err
			}
			keep, err := volumeFilter(filters, func(name string) bool { return len(inUse[name]) > 0 })
			if err != nil {
				return err
			}
			var rows []any
			for _, v := range all {
				if !keep(v) {
					continue
				}
				if quiet {
					fmt.Fprintln(g.stdout, v.Name)
					continue
				}
				rows = append(rows, volumeRow{labelled: labelled{v.Labels}, Driver: v.Driver, Name: v.Name, Mountpoint: v.Mountpoint, Scope: v.Scope,
					Labels: labelList(v.Labels), CreatedAt: v.CreatedAt.Format(time.RFC3339), Links: "N/A"})
			}
			if quiet {
				return nil
			}
			t := format.Table{Default: "{{.Driver}}\t{{.Name}}", Headers: map[string]string{"Name": "VOLUME NAME"}}
			return t.Write(g.stdout, fmtFlag, rows)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (e.g. \"dangling=true\")")
	cmd.Flags().StringVar(&fmtFlag, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
	return cmd
}

// volumeFilter reads Docker's volume filters: dangling, label, name.
func volumeFilter(filters []string, used func(string) bool) (func(volumes.Volume) bool, error) {
	var tests []func(volumes.Volume) bool
	for _, f := range filters {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "dangling":
			want := v == "true" || v == "1"
			tests = append(tests, func(vol volumes.Volume) bool { return used(vol.Name) != want })
		case "label":
			tests = append(tests, func(vol volumes.Volume) bool { return match.Label(vol.Labels, v) })
		case "name":
			tests = append(tests, func(vol volumes.Volume) bool { return strings.Contains(vol.Name, v) })
		default:
			return nil, usageError{fmt.Errorf("invalid filter '%s'", k)}
		}
	}
	return func(vol volumes.Volume) bool {
		for _, t := range tests {
			if !t(vol) {
				return false
			}
		}
		return true
	}, nil
}

func newVolumeInspectCmd(g *globals) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use: "inspect [OPTIONS] VOLUME [VOLUME...]", Short: "Display detailed information on one or more volumes", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			return inspectAll(g, tmpl, args, func(ref string) (any, error) { return m.Volumes.Get(ref) })
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	return cmd
}

func newVolumeRmCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use: "rm [OPTIONS] VOLUME [VOLUME...]", Aliases: []string{"remove"}, Short: "Remove one or more volumes", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			return eachRef(g, args, func(name string) error {
				users, err := m.VolumeUsers(name)
				if err == nil {
					err = m.Volumes.Remove(cmd.Context(), name, users)
				}
				if force && errors.Is(err, volumes.ErrNotFound) {
					return errGone // -f: a missing volume is not an error
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if a volume does not exist (a volume in use is never removed)")
	return cmd
}

func newVolumePruneCmd(g *globals) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use: "prune [OPTIONS]", Short: "Remove unused local volumes", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			warning := "WARNING! This will remove anonymous local volumes not used by at least one container."
			if all {
				warning = "WARNING! This will remove all local volumes not used by at least one container."
			}
			if !force && !confirm(g, warning) {
				return nil
			}
			m, err := g.containers()
			if err != nil {
				return err
			}
			keep, err := volumeFilter(filters, func(string) bool { return false })
			if err != nil {
				return err
			}
			freed, err := pruneVolumes(cmd.Context(), g, m, all, keep)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Total reclaimed space: %s\n", humanBytes(freed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "Provide filter values (e.g. \"label=<label>\")")
	return cmd
}

func humanBytes(n int64) string { return units.HumanSize(float64(n)) }

// pruneVolumes removes the volumes no container uses (anonymous ones only,
// unless all) that keep, if given, accepts, prints them in Docker's
// "Deleted Volumes:" block, and returns how much space they took.
func pruneVolumes(ctx context.Context, g *globals, m *container.Manager, all bool, keep func(volumes.Volume) bool) (int64, error) {
	list, err := m.Volumes.List()
	if err != nil {
		return 0, err
	}
	var removed []string
	var freed int64
	for _, v := range list {
		if (!all && !v.Anonymous()) || (keep != nil && !keep(v)) {
			continue
		}
		users, err := m.VolumeUsers(v.Name)
		if err != nil {
			return freed, err
		}
		if len(users) > 0 {
			continue
		}
		size := disk.Size(v.Mountpoint)
		if err := m.Volumes.Remove(ctx, v.Name, nil); err != nil {
			return freed, err
		}
		removed = append(removed, v.Name)
		freed += size
	}
	printDeleted(g, "Volumes", removed)
	return freed, nil
}

// printDeleted prints the "Deleted <kind>:" block that Docker's prune
// commands print, or nothing when nothing went.
func printDeleted(g *globals, kind string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(g.stdout, "Deleted %s:\n", kind)
	for _, it := range items {
		fmt.Fprintln(g.stdout, it)
	}
	fmt.Fprintln(g.stdout)
}

// labelled gives a listing's row Docker's {{.Label "KEY"}}.
type labelled struct{ labels map[string]string }

// Label is the value of one label, "" when the object has none by that name.
func (l labelled) Label(name string) string { return l.labels[name] }

// labelList is a --format template's .Labels: KEY=VALUE pairs, sorted,
// joined by commas, as Docker's listings show them.
func labelList(labels map[string]string) string {
	var out []string
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
