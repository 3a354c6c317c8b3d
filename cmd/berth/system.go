package main

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/format"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/systemd"
)

func newSystemCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "Manage berth"}
	cmd.AddCommand(newSystemInfoCmd(g), newSystemDfCmd(g), newSystemPruneCmd(g), newSystemBootCmd(g), newSystemInstallCmd(g))
	return cmd
}

func newSystemBootCmd(g *globals) *cobra.Command {
	var waitTimeout int
	cmd := &cobra.Command{
		Use:   "boot",
		Short: "Start again the containers a reboot stopped, as their restart policies say",
		Long: "Restores, after a reboot, what Docker's daemon restores when it starts: the networks,\n" +
			"and the containers whose restart policy is always, unless-stopped (unless stopped\n" +
			"by hand) or on-failure (if the reboot stopped them), in dependency order.\n" +
			"Running it again changes nothing. `berth system install` runs it at each boot.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.localEngine()
			if err != nil {
				return err
			}
			err = e.Boot(cmd.Context(), engine.BootOptions{WaitTimeout: time.Duration(waitTimeout) * time.Second})
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				return err
			}
			// one line for each container it could not restore
			for _, one := range joined.Unwrap() {
				fmt.Fprintf(g.stderr, "berth: %s\n", oneLine(one.Error()))
			}
			return exitError{code: 1, err: err, quiet: true}
		},
	}
	cmd.Flags().IntVar(&waitTimeout, "wait-timeout", 300, "Seconds a container waits for each dependency to become healthy or complete (0: no limit)")
	return cmd
}

func newSystemInstallCmd(g *globals) *cobra.Command {
	var uninstall bool
	var unitDir string
	cmd := &cobra.Command{
		Use:   "install [OPTIONS]",
		Short: "Run `berth system boot` at each boot, from a systemd unit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := filepath.Abs(g.root)
			if err != nil {
				return err
			}
			o := systemd.Options{Root: root, UnitDir: unitDir}
			if uninstall {
				res, err := systemd.Uninstall(cmd.Context(), o)
				if err == nil {
					fmt.Fprintf(g.stdout, "Removed %s\n", res.Unit)
				}
				return err
			}
			if o.Binary, err = os.Executable(); err != nil {
				return err
			}
			res, err := systemd.Install(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Created %s\n", res.Unit)
			if res.Systemctl {
				fmt.Fprintf(g.stdout, "Enabled %s (systemctl enable)\n", filepath.Base(res.Unit))
			} else {
				fmt.Fprintf(g.stdout, "Enabled %s (%s)\n", filepath.Base(res.Unit), res.Link)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&uninstall, "uninstall", false, "Disable and remove the unit")
	f.StringVar(&unitDir, "unit-dir", envOr("BERTH_UNIT_DIR", systemd.DefaultUnitDir), "Where the unit file goes (env BERTH_UNIT_DIR)")
	return cmd
}

// systemInfo is `system info`'s document; --format templates see its fields.
type systemInfo struct {
	ServerVersion     string
	BerthRootDir      string
	Containers        int
	ContainersRunning int
	ContainersPaused  int
	ContainersStopped int
	Images            int
	Volumes           int
	Driver            string
	CgroupVersion     string
	Seccomp           bool
	KernelVersion     string
	OperatingSystem   string
	Architecture      string
	NCPU              int
	MemTotal          int64
}

func newSystemInfoCmd(g *globals) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use: "info [OPTIONS]", Short: "Display system-wide information", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, entries, err := g.listContainers(cmd.Context())
			if err != nil {
				return err
			}
			info := systemInfo{ServerVersion: version, BerthRootDir: g.root, Driver: "overlayfs",
				Seccomp: runtime.SeccompSupported, Architecture: goruntime.GOARCH, NCPU: goruntime.NumCPU(), CgroupVersion: "1"}
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				info.CgroupVersion = "2"
			}
			var uts unix.Utsname
			if unix.Uname(&uts) == nil {
				info.KernelVersion = unix.ByteSliceToString(uts.Release[:])
			}
			if data, err := os.ReadFile("/etc/os-release"); err == nil {
				for _, l := range strings.Split(string(data), "\n") {
					if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
						info.OperatingSystem = strings.Trim(v, `"`)
					}
				}
			}
			var si unix.Sysinfo_t
			if unix.Sysinfo(&si) == nil {
				info.MemTotal = int64(si.Totalram) * int64(si.Unit)
			}
			for _, e := range entries {
				info.Containers++
				switch {
				case e.State.Status == record.Paused:
					info.ContainersPaused++
				case e.State.Running():
					info.ContainersRunning++
				default:
					info.ContainersStopped++
				}
			}
			images, _, err := g.openImages()
			if err != nil {
				return err
			}
			if list, err := image.List(images, image.ListOptions{}); err == nil {
				info.Images = len(list)
			}
			if vols, err := m.Volumes.List(); err == nil {
				info.Volumes = len(vols)
			}
			if tmpl != "" {
				t, err := format.Parse(tmpl)
				if err != nil {
					return usageError{err}
				}
				if err := t.Execute(g.stdout, info); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout)
				return nil
			}
			fmt.Fprintf(g.stdout, `Server:
 Containers: %d
  Running: %d
  Paused: %d
  Stopped: %d
 Images: %d
 Volumes: %d
 Server Version: berth %s
 Storage Driver: %s
 Cgroup Version: %s
 Seccomp: %t
 Kernel Version: %s
 Operating System: %s
 Architecture: %s
 CPUs: %d
 Total Memory: %s
 Berth Root Dir: %s
`, info.Containers, info.ContainersRunning, info.ContainersPaused, info.ContainersStopped, info.Images, info.Volumes,
				info.ServerVersion, info.Driver, info.CgroupVersion, info.Seccomp, info.KernelVersion, info.OperatingSystem,
				info.Architecture, info.NCPU, units.BytesSize(float64(info.MemTotal)), info.BerthRootDir)
			return nil
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	return cmd
}

// dfRow is one row of `system df`, with Docker's field names.
type dfRow struct {
	Type, TotalCount, Active, Size, Reclaimable string
}

func newSystemDfCmd(g *globals) *cobra.Command {
	var fmtFlag string
	var verbose bool
	cmd := &cobra.Command{
		Use: "df [OPTIONS]", Short: "Show berth disk usage", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			du, err := m.DiskUsage(cmd.Context())
			if err != nil {
				return err
			}
			images, _, err := g.openImages()
			if err != nil {
				return err
			}
			list, img, err := image.DiskUsage(images, m.ImageInUse)
			if err != nil {
				return err
			}
			if verbose {
				return writeDfVerbose(g, list, du)
			}
			rows := []any{dfRowOf("Images", img), dfRowOf("Containers", du.ContainersUsed), dfRowOf("Local Volumes", du.VolumesUsed)}
			t := format.Table{Default: "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}", Headers: map[string]string{"Type": "TYPE", "TotalCount": "TOTAL"}}
			return t.Write(g.stdout, fmtFlag, rows)
		},
	}
	cmd.Flags().StringVar(&fmtFlag, "format", "", "Format output using a custom template")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Show detailed information on space usage")
	return cmd
}

// dfVolume is one row of `system df -v`'s volume section.
type dfVolume struct{ Name, Links, Size string }

// writeDfVerbose prints `system df -v`: one section per kind, one row per
// image, container and volume.
func writeDfVerbose(g *globals, list []image.Summary, du container.DiskUsage) error {
	fmt.Fprintln(g.stdout, "Images space usage:")
	fmt.Fprintln(g.stdout)
	var imgRows []any
	for _, im := range list {
		im.ID = shortID(im.ID)
		imgRows = append(imgRows, im)
	}
	if err := imageTable.Write(g.stdout, "", imgRows); err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, "\nContainers space usage:")
	fmt.Fprintln(g.stdout)
	var ctrRows []any
	for _, c := range du.Containers {
		ctrRows = append(ctrRows, dfContainer{shortID(c.Record.ID), c.Record.Image, humanBytes(c.Size), string(c.State.Status), c.Record.Name})
	}
	t := format.Table{Default: "{{.ID}}\t{{.Image}}\t{{.Size}}\t{{.Status}}\t{{.Names}}",
		Headers: map[string]string{"ID": "CONTAINER ID"}}
	if err := t.Write(g.stdout, "", ctrRows); err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, "\nLocal Volumes space usage:")
	fmt.Fprintln(g.stdout)
	var volRows []any
	for _, v := range du.Volumes {
		volRows = append(volRows, dfVolume{v.Name, fmt.Sprint(v.Links), humanBytes(v.Size)})
	}
	t = format.Table{Default: "{{.Name}}\t{{.Links}}\t{{.Size}}", Headers: map[string]string{"Name": "VOLUME NAME"}}
	return t.Write(g.stdout, "", volRows)
}

// shortID is the 12-hex-digit form that tables show.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	return id[:min(12, len(id))]
}

// dfContainer is one row of `system df -v`'s container section.
type dfContainer struct{ ID, Image, Size, Status, Names string }

// dfRowOf is one row of system df's summary.
func dfRowOf(kind string, u disk.Usage) dfRow {
	return dfRow{kind, fmt.Sprint(u.Total), fmt.Sprint(u.Active), humanBytes(u.Size), reclaim(u.Reclaimable, u.Size)}
}

func reclaim(n, total int64) string {
	if total == 0 {
		return "0B"
	}
	return fmt.Sprintf("%s (%d%%)", humanBytes(n), n*100/total)
}

func newSystemPruneCmd(g *globals) *cobra.Command {
	var all, force, withVolumes bool
	var filters []string
	cmd := &cobra.Command{
		Use: "prune [OPTIONS]", Short: "Remove unused data", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(filters) > 0 {
				return usageError{fmt.Errorf("--filter is not supported by system prune yet")}
			}
			what := []string{"all stopped containers"}
			if withVolumes {
				what = append(what, "all anonymous volumes not used by at least one container")
			}
			if all {
				what = append(what, "all images without at least one container associated to them", "all build cache")
			} else {
				what = append(what, "all dangling images", "unused build cache")
			}
			warning := "WARNING! This will remove:\n  - " + strings.Join(what, "\n  - ")
			if !force && !confirm(g, warning) {
				return nil
			}
			m, err := g.containers()
			if err != nil {
				return err
			}
			removed, err := m.Prune(cmd.Context())
			if err != nil {
				return err
			}
			printDeleted(g, "Containers", removed)
			var freed int64
			if withVolumes {
				if freed, err = pruneVolumes(cmd.Context(), g, m, false, nil); err != nil {
					return err
				}
			}
			images, snaps, err := g.openImages()
			if err != nil {
				return err
			}
			lines, imgFreed, err := image.Prune(cmd.Context(), images, snaps, all, m.ImageInUse, m.SnapshotsInUse)
			printDeleted(g, "Images", lines)
			// as docker system prune: the build cache too, dangling or all
			var cacheFreed int64
			if err == nil {
				cacheFreed, err = pruneBuildCache(cmd, g, all)
			}
			fmt.Fprintf(g.stdout, "Total reclaimed space: %s\n", humanBytes(freed+imgFreed+cacheFreed))
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "Remove all unused images not just dangling ones")
	f.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	f.BoolVar(&withVolumes, "volumes", false, "Prune anonymous volumes")
	f.StringArrayVar(&filters, "filter", nil, "Provide filter values")
	return cmd
}
