package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/format"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/keeper"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/volumes"
)

func init() {
	// libcontainer starts every container by running this binary as
	// "berth init" inside the new namespaces.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.Init()
	}
	// the keeper of a container's monitor, where berth-keeper is not
	// beside this binary (see package keeper)
	if len(os.Args) > 1 && os.Args[1] == "__keeper" {
		os.Exit(keeper.Main(os.Args))
	}
}

func (g *globals) containers() (*container.Manager, error) {
	images, err := image.OpenSource(g.root)
	if err != nil {
		return nil, err
	}
	m, err := container.Open(g.root, images)
	if err != nil {
		return nil, err
	}
	// what a command killed half-way left is finished first
	if err := m.Sweep(context.Background()); err != nil {
		fmt.Fprintf(g.stderr, "warning: cleaning up after an interrupted command: %v\n", err)
	}
	return m, nil
}

// listContainers opens the container store and lists every container in it,
// newest first.
func (g *globals) listContainers(ctx context.Context) (*container.Manager, []record.Entry, error) {
	m, err := g.containers()
	if err != nil {
		return nil, nil, err
	}
	entries, err := m.List(ctx)
	return m, entries, err
}

// runError is an error from `container run` that keeps Docker's exit codes:
// 125 for berth's own failures, 126 and 127 for a command that cannot run.
func runError(code int, err error) error {
	if code == 0 {
		code = container.ExitStartFailed
	}
	return exitError{code: code, err: err}
}

type createFlags struct {
	o                                 container.CreateOptions
	entrypoint                        string
	memory, memorySwap, memoryReserve string
	cpus, shmSize                     string
	pids                              int64
	stopT, oomScore, swappiness       int
	env, envFiles, labels             []string
	annotations                       []string
	weightDevices, readBps, writeBps  []string
	readIOps, writeIOps               []string
	ulimits, sysctls, tmpfs, devices  []string
	securityOpts, logOpts             []string
	volumeFlags, mountFlags           []string
	networks, addHosts                []string
	publish, expose, aliases          []string
	healthCmd                         string
	noHealthcheck                     bool
	health                            record.Healthcheck
	dns, dnsSearch, dnsOptions        []string
	ip, restart, pid, ipc             string
	links, volumesFrom, cgroupRules   []string
}

func (f *createFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.SetInterspersed(false) // flags after IMAGE belong to the command
	fs.StringVar(&f.o.Name, "name", "", "Assign a name to the container")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "Set environment variables")
	fs.StringVarP(&f.o.WorkDir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&f.o.User, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.StringVarP(&f.o.Hostname, "hostname", "h", "", "Container host name")
	fs.StringVar(&f.o.Domainname, "domainname", "", "Container NIS domain name")
	fs.Bool("help", false, "help for "+cmd.Name())
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "Set meta data on a container")
	fs.StringVar(&f.restart, "restart", "no", "Restart policy to apply when a container exits")
	fs.StringVar(&f.o.StopSignal, "stop-signal", "", "Signal to stop the container")
	fs.IntVar(&f.stopT, "stop-timeout", -1, "Timeout (in seconds) to stop a container")
	fs.BoolVar(&f.o.Privileged, "privileged", false, "Give extended privileges to this container")
	fs.BoolVar(&f.o.ReadOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.StringArrayVar(&f.o.CapAdd, "cap-add", nil, "Add Linux capabilities")
	fs.StringArrayVar(&f.o.CapDrop, "cap-drop", nil, "Drop Linux capabilities")
	fs.StringVarP(&f.memory, "memory", "m", "", "Memory limit")
	fs.StringVar(&f.cpus, "cpus", "", "Number of CPUs")
	fs.Int64Var(&f.pids, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringVar(&f.o.Pull, "pull", "missing", `Pull image before running ("always", "missing", "never")`)
	fs.StringArrayVar(&f.envFiles, "env-file", nil, "Read in a file of environment variables")
	fs.StringVar(&f.memorySwap, "memory-swap", "", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fs.StringVar(&f.memoryReserve, "memory-reservation", "", "Memory soft limit")
	fs.Int64VarP(&f.o.Resources.CPUShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.StringVar(&f.o.Resources.CpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&f.shmSize, "shm-size", "", "Size of /dev/shm")
	fs.StringArrayVar(&f.ulimits, "ulimit", nil, "Ulimit options")
	fs.StringArrayVar(&f.sysctls, "sysctl", nil, "Sysctl options")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "Mount a tmpfs directory")
	fs.StringArrayVar(&f.devices, "device", nil, "Add a host device to the container")
	fs.StringArrayVar(&f.o.GroupAdd, "group-add", nil, "Add additional groups to join")
	fs.IntVar(&f.oomScore, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	fs.StringVar(&f.pid, "pid", "", "PID namespace to use")
	fs.StringVar(&f.ipc, "ipc", "", "IPC mode to use")
	fs.StringVar(&f.o.Namespaces.UTS, "uts", "", "UTS namespace to use")
	fs.StringVar(&f.o.CgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	fs.Int64Var(&f.o.Resources.CPUPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fs.Int64Var(&f.o.Resources.CPUQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fs.IntVar(&f.swappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100) (default -1)")
	fs.BoolVar(&f.o.Resources.OOMKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	fs.StringVar(&f.o.CgroupNS, "cgroupns", "", `Cgroup namespace to use (host|private)`)
	fs.StringArrayVar(&f.cgroupRules, "device-cgroup-rule", nil, "Add a rule to the cgroup allowed devices list")
	fs.StringArrayVar(&f.annotations, "annotation", nil, "Add an annotation to the container (passed through to the OCI runtime)")
	fs.Int64Var(&f.o.Resources.CPURealtimePeriod, "cpu-rt-period", 0, "Limit CPU real-time period in microseconds")
	fs.Int64Var(&f.o.Resources.CPURealtimeRuntime, "cpu-rt-runtime", 0, "Limit CPU real-time runtime in microseconds")
	fs.Uint16Var(&f.o.Resources.BlkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	fs.StringArrayVar(&f.weightDevices, "blkio-weight-device", nil, "Block IO weight (relative device weight)")
	fs.StringArrayVar(&f.readBps, "device-read-bps", nil, "Limit read rate (bytes per second) from a device")
	fs.StringArrayVar(&f.writeBps, "device-write-bps", nil, "Limit write rate (bytes per second) to a device")
	fs.StringArrayVar(&f.readIOps, "device-read-iops", nil, "Limit read rate (IO per second) from a device")
	fs.StringArrayVar(&f.writeIOps, "device-write-iops", nil, "Limit write rate (IO per second) to a device")
	fs.StringArrayVar(&f.securityOpts, "security-opt", nil, "Security Options")
	fs.StringArrayVar(&f.networks, "network", nil, "Connect a container to a network")
	fs.StringArrayVar(&f.networks, "net", nil, "Connect a container to a network")
	fs.MarkHidden("net")
	fs.StringVar(&f.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fs.StringVar(&f.o.MacAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "Publish a container's port(s) to the host")
	fs.StringArrayVar(&f.aliases, "network-alias", nil, "Add network-scoped alias for the container")
	fs.StringArrayVar(&f.links, "link", nil, "Add link to another container")
	fs.StringVar(&f.healthCmd, "health-cmd", "", "Command to run to check health")
	fs.DurationVar(&f.health.Interval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	fs.DurationVar(&f.health.Timeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fs.DurationVar(&f.health.StartPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fs.DurationVar(&f.health.StartInterval, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	fs.IntVar(&f.health.Retries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	fs.BoolVar(&f.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
	fs.BoolVarP(&f.o.PublishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fs.StringArrayVar(&f.expose, "expose", nil, "Expose a port or a range of ports")
	fs.StringArrayVar(&f.addHosts, "add-host", nil, "Add a custom host-to-IP mapping (host:ip)")
	fs.StringArrayVar(&f.dns, "dns", nil, "Set custom DNS servers")
	fs.StringArrayVar(&f.dnsSearch, "dns-search", nil, "Set custom DNS search domains")
	fs.StringArrayVar(&f.dnsOptions, "dns-option", nil, "Set DNS options")
	fs.StringArrayVar(&f.dnsOptions, "dns-opt", nil, "Set DNS options")
	fs.MarkHidden("dns-opt")
	fs.StringArrayVar(&f.logOpts, "log-opt", nil, "Log driver options (json-file: max-size, max-file)")
	fs.BoolVar(&f.o.Init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	fs.StringArrayVarP(&f.volumeFlags, "volume", "v", nil, "Bind mount a volume")
	fs.StringArrayVar(&f.mountFlags, "mount", nil, "Attach a filesystem mount to the container")
	fs.StringArrayVar(&f.volumesFrom, "volumes-from", nil, "Mount volumes from the specified container(s)")
	fs.BoolVarP(&f.o.Interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVarP(&f.o.TTY, "tty", "t", false, "Allocate a pseudo-TTY")
}

// parseEach parses every value of a repeatable flag; the first bad one is a
// usage error.
func parseEach[T any](values []string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, v := range values {
		x, err := parse(v)
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, x)
	}
	return out, nil
}

// options turns the flags and IMAGE [COMMAND...] into create options:
// parsing only; Create validates them (CreateOptions.Validate), as it
// does compose's.
func (f *createFlags) options(g *globals, args []string) (container.CreateOptions, error) {
	o := f.o
	o.Image, o.Cmd = args[0], args[1:]
	var err error
	if o.Restart, err = container.ParseRestart(f.restart); err != nil {
		return o, usageError{err}
	}
	o.Namespaces.PID, o.Namespaces.IPC = container.ParseNamespaceMode(f.pid), container.ParseNamespaceMode(f.ipc)
	if o.DeviceCgroupRules, err = parseEach(f.cgroupRules, runtime.ParseDeviceRule); err != nil {
		return o, err
	}
	if o.Links, err = parseEach(f.links, container.ParseLink); err != nil {
		return o, err
	}
	if o.VolumesFrom, err = parseEach(f.volumesFrom, container.ParseVolumeFrom); err != nil {
		return o, err
	}
	o.Env = f.env
	if f.entrypoint != "" {
		o.Entrypoint = []string{f.entrypoint}
	}
	if f.stopT >= 0 {
		t := f.stopT
		o.StopTimeout = &t
	}
	if len(f.labels) > 0 {
		o.Labels, _ = keyValues("--label", f.labels) // a bare KEY is an empty label
	}
	if len(f.annotations) > 0 {
		o.Annotations, _ = keyValues("--annotation", f.annotations)
	}
	if f.memory != "" {
		n, err := units.RAMInBytes(f.memory)
		if err != nil || n <= 0 {
			return o, usageError{fmt.Errorf("invalid argument %q for \"-m, --memory\" flag: invalid size", f.memory)}
		}
		o.Resources.Memory = n
	}
	if f.cpus != "" {
		// the value's range is Validate's, as for compose
		cpus, err := strconv.ParseFloat(f.cpus, 64)
		if err != nil {
			return o, usageError{fmt.Errorf("invalid argument %q for \"--cpus\" flag: failed to parse %s as a rational number", f.cpus, f.cpus)}
		}
		o.Resources.NanoCPUs = int64(math.Round(cpus * 1e9))
	}
	o.Resources.PidsLimit = f.pids
	for _, path := range f.envFiles {
		env, err := container.ReadEnvFile(path)
		if err != nil {
			return o, usageError{err}
		}
		o.Env = append(env, o.Env...) // -e wins over --env-file
	}
	for flag, p := range map[string]struct {
		in  string
		out *int64
	}{"--memory-swap": {f.memorySwap, &o.Resources.MemorySwap}, "--memory-reservation": {f.memoryReserve, &o.Resources.MemoryReservation}, "--shm-size": {f.shmSize, &o.ShmSize}} {
		switch {
		case p.in == "":
		case p.in == "-1" && flag == "--memory-swap":
			*p.out = -1
		default:
			n, err := units.RAMInBytes(p.in)
			if err != nil || n <= 0 {
				return o, usageError{fmt.Errorf("invalid argument %q for \"%s\" flag: invalid size", p.in, flag)}
			}
			*p.out = n
		}
	}
	if o.Resources.BlkioWeightDevices, err = parseEach(f.weightDevices, container.ParseWeightDevice); err != nil {
		return o, err
	}
	t := &o.Resources.BlkioThrottle
	for _, th := range []struct {
		in    []string
		out   *[]runtime.ThrottleDevice
		bytes bool
	}{{f.readBps, &t.ReadBps, true}, {f.writeBps, &t.WriteBps, true}, {f.readIOps, &t.ReadIOps, false}, {f.writeIOps, &t.WriteIOps, false}} {
		if *th.out, err = parseEach(th.in, func(v string) (runtime.ThrottleDevice, error) { return container.ParseThrottle(v, th.bytes) }); err != nil {
			return o, err
		}
	}
	if f.swappiness != -1 { // Docker's unset
		v := int64(f.swappiness)
		o.Resources.MemorySwappiness = &v
	}
	if f.oomScore != 0 {
		score := f.oomScore
		o.Resources.OOMScoreAdj = &score
	}
	if o.Ulimits, err = parseEach(f.ulimits, container.ParseUlimit); err != nil {
		return o, err
	}
	for _, kv := range f.sysctls {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return o, usageError{fmt.Errorf("invalid sysctl %q: want name=value", kv)}
		}
		if o.Sysctls == nil {
			o.Sysctls = map[string]string{}
		}
		o.Sysctls[k] = v
	}
	if o.Tmpfs, err = parseEach(f.tmpfs, container.ParseTmpfs); err != nil {
		return o, err
	}
	if o.Devices, err = parseEach(f.devices, container.ParseDevice); err != nil {
		return o, err
	}
	if o.Mounts, err = parseEach(f.volumeFlags, volumes.ParseVolumeFlag); err != nil {
		return o, err
	}
	mounts, err := parseEach(f.mountFlags, volumes.ParseMountFlag)
	if err != nil {
		return o, err
	}
	o.Mounts = append(o.Mounts, mounts...)
	for _, lo := range f.logOpts {
		k, v, _ := strings.Cut(lo, "=")
		if err := o.LogOpt(k, v); err != nil {
			return o, usageError{err}
		}
	}
	for _, so := range f.securityOpts {
		if err := o.SecurityOpt(so, os.ReadFile); err != nil {
			return o, usageError{err}
		}
	}
	for _, n := range f.networks {
		switch n {
		case "none":
			o.NoNetwork = true
		case "":
		case "host":
			o.HostNetwork = true
		case "bridge", "default":
			o.Networks = append(o.Networks, netns.DefaultNetwork)
		default:
			if owner, ok := strings.CutPrefix(n, "container:"); ok {
				o.NetworkContainer = owner
				continue
			}
			o.Networks = append(o.Networks, n)
		}
	}
	ports, err := parseEach(f.publish, netns.ParsePorts)
	if err != nil {
		return o, err
	}
	o.Ports = slices.Concat(ports...)
	expose, err := parseEach(f.expose, container.ParseExpose)
	if err != nil {
		return o, err
	}
	o.Expose, o.Aliases = slices.Concat(expose...), f.aliases
	o.NoHealthcheck = f.noHealthcheck
	if h := f.health; f.healthCmd != "" || h.Interval != 0 || h.Timeout != 0 || h.StartPeriod != 0 || h.StartInterval != 0 || h.Retries != 0 {
		h := f.health
		if f.healthCmd != "" {
			h.Test = []string{"CMD-SHELL", f.healthCmd}
		}
		o.Healthcheck = &h
	}
	if o.HostNetwork && (len(o.Ports) > 0 || o.PublishAll) {
		fmt.Fprintln(g.stderr, "WARNING: Published ports are discarded when using host network mode")
	}
	if o.ExtraHosts, err = parseEach(f.addHosts, container.ParseAddHost); err != nil {
		return o, err
	}
	o.DNS, o.DNSSearch, o.DNSOptions = f.dns, f.dnsSearch, f.dnsOptions
	if f.ip != "" {
		ip, err := netip.ParseAddr(f.ip)
		if err != nil {
			return o, usageError{fmt.Errorf("invalid IPv4 address: %s", f.ip)}
		}
		o.IP = ip
	}
	// pull progress goes to stderr: stdout is the container's, or its ID
	o.Progress = g.displayTo(g.stderr)
	if !runtime.SeccompSupported && !o.Privileged && !o.Unconfined {
		fmt.Fprintln(g.stderr, "warning: this berth was built without seccomp: the container runs without a system call filter")
	}
	return o, nil
}

// create makes the container IMAGE [COMMAND...] describes.
func (f *createFlags) create(cmd *cobra.Command, g *globals, args []string) (*container.Manager, *record.Record, error) {
	o, err := f.options(g, args)
	if err != nil {
		return nil, nil, err
	}
	m, err := g.containers()
	if err != nil {
		return nil, nil, runError(0, err)
	}
	rec, err := m.Create(cmd.Context(), o)
	if err != nil {
		return nil, nil, runError(0, err)
	}
	for _, w := range rec.Warnings {
		fmt.Fprintln(g.stderr, "WARNING:", w)
	}
	return m, rec, nil
}

// streams are this command's standard streams, its stdin as the terminal
// when it is a file.
func (g *globals) streams() proc.Streams {
	s := proc.Streams{Stdin: g.stdin, Stdout: g.stdout, Stderr: g.stderr}
	if f, ok := g.stdin.(*os.File); ok {
		s.Terminal = f
	}
	return s
}

// attach connects this command's streams to a container as -i and -t ask.
func (g *globals) attach(rec *record.Record) *container.Attach {
	return container.AttachFor(g.streams(), rec)
}

// exitWith ends the command with the container's exit code, printing
// nothing more: the container has said what it had to.
func exitWith(code int) error {
	if code == 0 {
		return nil
	}
	return exitError{code: code, err: fmt.Errorf("exit status %d", code), quiet: true}
}

func newContainerRunCmd(g *globals) *cobra.Command {
	var f createFlags
	var detach bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, rec, err := f.create(cmd, g, args)
			if err != nil {
				return err
			}
			if detach {
				if code, err := m.Start(cmd.Context(), rec.ID, nil); err != nil {
					return runError(code, err)
				}
				fmt.Fprintln(g.stdout, rec.ID)
				return nil
			}
			code, err := m.Start(cmd.Context(), rec.ID, g.attach(rec))
			if err != nil {
				if f.o.AutoRemove {
					m.Remove(cmd.Context(), rec.ID, true, true)
				}
				return runError(code, err)
			}
			return exitWith(code)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	cmd.Flags().BoolVar(&f.o.AutoRemove, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	return cmd
}

func newContainerCreateCmd(g *globals) *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, rec, err := f.create(cmd, g, args)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, rec.ID)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&f.o.AutoRemove, "rm", false, "Automatically remove the container when it exits")
	return cmd
}

// eachContainer runs fn on every named container, printing each name that
// succeeds as Docker does, and returns the errors joined.
func eachContainer(g *globals, args []string, fn func(m *container.Manager, ref string) error) error {
	m, err := g.containers()
	if err != nil {
		return err
	}
	return eachRef(g, args, func(ref string) error { return fn(m, ref) })
}

// errGone is what fn gives eachRef for an object -f found already gone:
// neither printed nor an error.
var errGone = errors.New("already gone")

// eachRef is Docker's loop over the objects a command names: fn on each,
// the name printed when it succeeds, and every failure reported after the
// others have been done.
func eachRef(g *globals, refs []string, fn func(ref string) error) error {
	var errs []error
	for _, ref := range refs {
		switch err := fn(ref); {
		case errors.Is(err, errGone):
		case err != nil:
			errs = append(errs, err)
		default:
			fmt.Fprintln(g.stdout, ref)
		}
	}
	return errors.Join(errs...)
}

func newContainerStartCmd(g *globals) *cobra.Command {
	var attach, interactive bool
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attach || interactive {
				m, err := g.containers()
				if err != nil {
					return err
				}
				e, err := m.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				a := g.attach(&e.Record)
				if !interactive {
					a.Stdin = nil
				}
				code, err := m.Start(cmd.Context(), args[0], a)
				if err != nil {
					return exitError{code: 1, err: err}
				}
				return exitWith(code)
			}
			return eachContainer(g, args, func(m *container.Manager, ref string) error {
				_, err := m.Start(cmd.Context(), ref, nil)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	return cmd
}

func newContainerStopCmd(g *globals, restart bool) *cobra.Command {
	var timeout int
	var signal string
	use, short := "stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers"
	if restart {
		use, short = "restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers"
	}
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := time.Duration(timeout) * time.Second
			if !cmd.Flags().Changed("timeout") {
				t = -1
			}
			return eachContainer(g, args, func(m *container.Manager, ref string) error {
				if err := m.Stop(cmd.Context(), ref, t, signal); err != nil {
					return err
				}
				if restart {
					_, err := m.Start(cmd.Context(), ref, nil)
					return err
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 10, "Seconds to wait before killing the container")
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func newContainerKillCmd(g *globals) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use: "kill [OPTIONS] CONTAINER [CONTAINER...]", Short: "Kill one or more running containers", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(g, args, func(m *container.Manager, ref string) error {
				return m.Kill(cmd.Context(), ref, signal)
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "Signal to send to the container")
	return cmd
}

func newContainerRmCmd(g *globals) *cobra.Command {
	var force, removeVolumes bool
	cmd := &cobra.Command{
		Use: "rm [OPTIONS] CONTAINER [CONTAINER...]", Aliases: []string{"remove"}, Short: "Remove one or more containers", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(g, args, func(m *container.Manager, ref string) error {
				return m.Remove(cmd.Context(), ref, force, removeVolumes)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&removeVolumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	return cmd
}

func newContainerWaitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "wait CONTAINER [CONTAINER...]", Short: "Block until one or more containers stop, then print their exit codes", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			var errs []error
			for _, a := range args {
				code, err := m.Wait(cmd.Context(), a)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(g.stdout, code)
			}
			return errors.Join(errs...)
		},
	}
}

func newContainerPsCmd(g *globals) *cobra.Command {
	var all, quiet, noTrunc bool
	var fmtFlag string
	var filters []string
	cmd := &cobra.Command{
		Use: "ps [OPTIONS]", Aliases: []string{"ls", "list"}, Short: "List containers", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			match, err := container.Filter(filters)
			if err != nil {
				return usageError{err}
			}
			// a status or exit-code filter looks at every container, as in Docker
			if slices.ContainsFunc(filters, func(f string) bool { return strings.HasPrefix(f, "status=") || strings.HasPrefix(f, "exited=") }) {
				all = true
			}
			_, entries, err := g.listContainers(cmd.Context())
			if err != nil {
				return err
			}
			var rows []any
			for _, e := range entries {
				if !all && !e.State.Running() || !match(e) {
					continue
				}
				sum := container.Summarize(e, noTrunc)
				if quiet {
					fmt.Fprintln(g.stdout, sum.ID)
					continue
				}
				rows = append(rows, sum)
			}
			if quiet {
				return nil
			}
			t := format.Table{
				Default: "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
				Headers: map[string]string{"ID": "CONTAINER ID", "RunningFor": "CREATED", "Names": "NAMES", "CreatedAt": "CREATED AT"},
			}
			return t.Write(g.stdout, fmtFlag, rows)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	f.StringVar(&fmtFlag, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
	f.StringArrayVar(&filters, "filter", nil, "Filter output based on conditions provided")
	return cmd
}

func newContainerLogsCmd(g *globals) *cobra.Command {
	var o proc.LogOptions
	var lf logFlags
	cmd := &cobra.Command{
		Use: "logs [OPTIONS] CONTAINER", Short: "Fetch the logs of a container", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lf.options(&o); err != nil {
				return err
			}
			m, err := g.containers()
			if err != nil {
				return err
			}
			return m.Logs(cmd.Context(), args[0], o, g.stdout, g.stderr)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "Follow log output")
	f.BoolVarP(&o.Timestamps, "timestamps", "t", false, "Show timestamps")
	f.StringVarP(&lf.tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	f.StringVar(&lf.since, "since", "", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	f.StringVar(&lf.until, "until", "", "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)")
	return cmd
}

// logFlags are the --tail, --since and --until of the logs commands.
type logFlags struct{ tail, since, until string }

// options fills o's Tail, Since and Until from the flags.
func (f logFlags) options(o *proc.LogOptions) error {
	var err error
	if o.Tail, err = parseTail(f.tail); err != nil {
		return err
	}
	if o.Since, err = parseTime(f.since, "since"); err != nil {
		return err
	}
	o.Until, err = parseTime(f.until, "until")
	return err
}

// parseTail reads --tail: "all" or a count.
func parseTail(s string) (int, error) {
	if s == "" || s == "all" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, usageError{fmt.Errorf("invalid --tail %q: want a number or all", s)}
	}
	return n, nil
}

// parseTime reads Docker's --since/--until: an RFC 3339 time, a relative
// duration (42m) or a Unix timestamp.
func parseTime(s, flag string) (time.Time, error) { return parseTimeAt(s, flag, time.Now()) }

// parseTimeAt is parseTime with durations counted back from now.
func parseTimeAt(s, flag string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(f*float64(time.Second))), nil
	}
	return time.Time{}, usageError{fmt.Errorf("invalid --%s %q: want a time (2013-01-02T13:23:37Z), a duration (42m) or a Unix timestamp", flag, s)}
}

func newContainerExecCmd(g *globals) *cobra.Command {
	var o proc.ExecOptions
	var interactive bool
	cmd := &cobra.Command{
		Use: "exec [OPTIONS] CONTAINER COMMAND [ARG...]", Short: "Execute a command in a running container", Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			o.Cmd, o.Stdout, o.Stderr = args[1:], g.stdout, g.stderr
			if interactive {
				o.Stdin = g.stdin
			}
			if f, ok := g.stdin.(*os.File); ok && o.TTY {
				o.Terminal = f
			}
			code, err := m.Exec(cmd.Context(), args[0], o)
			if err != nil {
				if errors.Is(err, container.ErrState) || errors.Is(err, container.ErrNotFound) {
					return err
				}
				return runError(code, err)
			}
			return exitWith(code)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	f.BoolVarP(&o.TTY, "tty", "t", false, "Allocate a pseudo-TTY")
	f.BoolVarP(&o.Detach, "detach", "d", false, "Detached mode: run command in the background")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "Set environment variables")
	f.StringVarP(&o.User, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	f.StringVarP(&o.WorkDir, "workdir", "w", "", "Working directory inside the container")
	f.BoolVar(&o.Privileged, "privileged", false, "Give extended privileges to the command")
	return cmd
}

func newContainerPauseCmd(g *globals, pause bool) *cobra.Command {
	use, short := "pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers"
	if !pause {
		use, short = "unpause CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers"
	}
	return &cobra.Command{
		Use: use, Short: short, Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(g, args, func(m *container.Manager, ref string) error {
				if pause {
					return m.Pause(cmd.Context(), ref)
				}
				return m.Unpause(cmd.Context(), ref)
			})
		},
	}
}

func newContainerInspectCmd(g *globals) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use: "inspect [OPTIONS] CONTAINER [CONTAINER...]", Short: "Display detailed information on one or more containers", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			return inspectAll(g, tmpl, args, func(ref string) (any, error) {
				e, err := m.Get(cmd.Context(), ref)
				if err != nil {
					return nil, err
				}
				return container.Inspect(e), nil
			})
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	return cmd
}

func newContainerTopCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use: "top CONTAINER [ps OPTIONS]", Short: "Display the running processes of a container", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			p, err := m.Top(cmd.Context(), args[0], args[1:])
			if err != nil {
				return err
			}
			return format.Processes(g.stdout, p.Titles, p.Processes)
		},
	}
	cmd.Flags().SetInterspersed(false) // ps options follow the container
	return cmd
}

func newContainerStatsCmd(g *globals) *cobra.Command {
	var all, noStream, noTrunc bool
	var fmtFlag string
	cmd := &cobra.Command{
		Use: "stats [OPTIONS] [CONTAINER...]", Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			return g.statsLoop(cmd.Context(), func(ctx context.Context) ([]proc.StatsRow, error) { return m.Stats(ctx, args, time.Second) }, noStream, fmtFlag)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	f.BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	f.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	f.StringVar(&fmtFlag, "format", "", "Format output using a custom template")
	markNoEffect(cmd, "all", "no-trunc")
	return cmd
}

// statsLoop prints the resource use sample gives, once or redrawn with
// each sample (container stats, and compose's stats).
func (g *globals) statsLoop(ctx context.Context, sample func(context.Context) ([]proc.StatsRow, error), noStream bool, fmtFlag string) error {
	t := format.Table{
		Default: "{{.Container}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
		Headers: map[string]string{"Container": "CONTAINER ID", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O"},
	}
	for {
		rows, err := sample(ctx)
		if err != nil {
			return err
		}
		if !noStream {
			fmt.Fprint(g.stdout, "\x1b[2J\x1b[H") // redraw in place, as Docker does
		}
		if err := t.Write(g.stdout, fmtFlag, anySlice(rows)); err != nil || noStream {
			return err
		}
	}
}

func newContainerCpCmd(g *globals) *cobra.Command {
	var o proc.CopyOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth container cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			o.Stdin, o.Stdout = g.stdin, g.stdout
			return m.Copy(cmd.Context(), args[0], args[1], o)
		},
	}
	cmd.Flags().BoolVarP(&o.Archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	cmd.Flags().BoolVarP(&o.FollowLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	return cmd
}

func newContainerCommitCmd(g *globals) *cobra.Command {
	var o container.CommitOptions
	cmd := &cobra.Command{
		Use: "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", Short: "Create a new image from a container's changes", Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			if len(args) == 2 {
				o.Name = args[1]
			}
			ref, err := m.Commit(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(ref, "sha256:") {
				images, _, err := g.openImages()
				if err != nil {
					return err
				}
				_, img, err := images.Lookup(ref)
				if err != nil {
					return err
				}
				id, _ := img.ConfigName()
				ref = id.String()
			}
			_, err = fmt.Fprintln(g.stdout, ref)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Author, "author", "a", "", "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
	f.StringArrayVarP(&o.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	f.StringVarP(&o.Message, "message", "m", "", "Commit message")
	f.BoolVarP(&o.Pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

func newContainerAttachCmd(g *globals) *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use: "attach [OPTIONS] CONTAINER", Short: "Attach local standard input, output, and error streams to a running container", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			code, err := m.Attach(cmd.Context(), args[0], proc.AttachOptions{
				NoStdin: noStdin, SigProxy: sigProxy, Stdin: g.stdin, Stdout: g.stdout, Stderr: g.stderr,
			})
			if err != nil {
				return err
			}
			return exitWith(code)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	f.BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	f.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	markNoEffect(cmd, "detach-keys")
	return cmd
}

// newMonitorCmd is the hidden command each container's monitor runs as.
func newMonitorCmd(g *globals) *cobra.Command {
	var f monitor.Flags
	cmd := &cobra.Command{
		Use: "__monitor ID", Hidden: true, Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return monitor.Run(cmd.Context(), g.root, args[0], f, container.AutoRemove)
		},
	}
	cmd.Flags().BoolVar(&f.Attached, "attached", false, "")
	cmd.Flags().BoolVar(&f.Stdin, "stdin", false, "")
	cmd.Flags().StringVar(&f.TTYSize, "tty-size", "", "")
	cmd.Flags().IntVar(&f.Handoff, "handoff", -1, "")
	cmd.Flags().BoolVar(&f.Recover, "recover", false, "")
	return cmd
}

// newProbeCmd is the hidden command a monitor runs for each health probe.
func newProbeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "__probe ID", Hidden: true, Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			next, err := monitor.Probe(cmd.Context(), g.root, args[0])
			if err == nil {
				fmt.Fprintln(cmd.OutOrStdout(), next)
			}
			return err
		},
	}
}

func newContainerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "container", Short: "Manage containers"}
	cmd.AddCommand(newContainerRunCmd(g), newContainerCreateCmd(g), newContainerStartCmd(g),
		newContainerStopCmd(g, false), newContainerStopCmd(g, true), newContainerKillCmd(g), newContainerRmCmd(g),
		newContainerPsCmd(g), newContainerLogsCmd(g), newContainerWaitCmd(g), newContainerInspectCmd(g),
		newContainerExecCmd(g), newContainerPauseCmd(g, true), newContainerPauseCmd(g, false),
		newContainerTopCmd(g), newContainerStatsCmd(g), newContainerCpCmd(g), newContainerCommitCmd(g),
		newContainerAttachCmd(g), newContainerPortCmd(g))
	return cmd
}

func newContainerPortCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "port CONTAINER [PRIVATE_PORT[/PROTO]]", Short: "List port mappings or a specific mapping for the container",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.containers()
			if err != nil {
				return err
			}
			e, err := m.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			lines, err := container.PortLines(e.State, strings.Join(args[1:], ""))
			if err != nil {
				return err
			}
			for _, l := range lines {
				fmt.Fprintln(g.stdout, l)
			}
			return nil
		},
	}
}
