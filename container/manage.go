package container

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/volumes"
)

// Manager is what the container commands act through.
type Manager struct {
	root    string
	Store   *record.Store
	images  Images
	Volumes *volumes.Store
	// rt is the runtime the monitors run the containers in, for exec,
	// pause, stats and top; set once, by Open.
	rt Runtime
}

// Progress receives what a pull is doing (image.Progress: the same
// interface literal, so the same type).
type Progress = interface {
	Layer(id, status string, current, total int64)
	Line(text string)
}

// Images is what containers need of the image store; image.Source is it.
// An interface rather than the image package's types keeps container, and
// the monitor built on it, free of the registry client.
type Images interface {
	// Lookup finds a local image; nil, nil when there is none.
	Lookup(ref string) (v1.Image, error)
	// Tagged is when ref was last pointed at an image here (pulled,
	// loaded, tagged); zero when there is no such ref.
	Tagged(ref string) time.Time
	// Pull fetches ref.
	Pull(ctx context.Context, ref string, progress Progress) error
	// Lowers unpacks the image if need be and returns its layers as
	// overlay lower directories, top first.
	Lowers(ctx context.Context, img v1.Image) ([]string, error)
	// Commit makes an image from base plus the layer write produces.
	Commit(ctx context.Context, base v1.Image, config v1.Config, write func(io.Writer) error, changes []string, author, message, createdBy, name string) (string, error)
}

// noImages is the image store of a Manager opened without one: it has no
// image, and cannot pull or commit.
type noImages struct{}

var errNoStore = errclass.New(ErrInvalid, "this container manager has no image store")

func (noImages) Lookup(string) (v1.Image, error)                    { return nil, nil }
func (noImages) Tagged(string) time.Time                            { return time.Time{} }
func (noImages) Pull(context.Context, string, Progress) error       { return errNoStore }
func (noImages) Lowers(context.Context, v1.Image) ([]string, error) { return nil, errNoStore }
func (noImages) Commit(context.Context, v1.Image, v1.Config, func(io.Writer) error, []string, string, string, string, string) (string, error) {
	return "", errNoStore
}

// Open opens the containers under berth's state root, with their images
// from images (nil: none; creating a container then fails).
func Open(root string, images Images) (*Manager, error) {
	s, err := record.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		return nil, err
	}
	vols, err := volumes.Open(filepath.Join(root, "volumes"))
	if err != nil {
		return nil, err
	}
	// the volumes store describes mounts; a tmpfs volume's shared host
	// mount is the runtime's to make
	vols.Mount, vols.Unmount = runtime.MountHost, runtime.Unmount
	if images == nil {
		images = noImages{}
	}
	return &Manager{root: root, Store: s, images: images, Volumes: vols, rt: newHostRuntime(monitor.RunDir(root))}, nil
}

// CreateOptions are `container create`'s settings.
type CreateOptions struct {
	Name       string
	Image      string
	Cmd        []string
	Entrypoint []string // nil: the image's; non-nil (even empty): replaces it and clears the image's Cmd
	Env        []string
	WorkDir    string
	User       string
	Hostname   string
	Domainname string
	Labels     map[string]string
	AutoRemove bool
	Restart    record.RestartPolicy
	StopSignal string
	// StopTimeout is in seconds; nil means Docker's 10.
	StopTimeout *int
	Privileged  bool
	ReadOnly    bool
	// TTY gives the container a terminal; Interactive keeps its stdin open.
	TTY, Interactive bool
	Ulimits          []specs.POSIXRlimit
	Sysctls          map[string]string
	ShmSize          int64
	Tmpfs            []specs.Mount
	Devices          []runtime.Device
	GroupAdd         []string
	NoNewPrivileges  bool
	// Unconfined drops the default seccomp profile.
	Unconfined bool
	// SeccompProfile replaces Docker's default seccomp profile (JSON).
	SeccompProfile string
	// Networks are the networks to join, eth0 first; none is loopback only.
	Networks []string
	// HostNetwork shares the host's network namespace.
	HostNetwork bool
	// Healthcheck replaces the image's HEALTHCHECK (test ["NONE"], or
	// NoHealthcheck, turns it off); its zero durations are the image's.
	Healthcheck   *record.Healthcheck
	NoHealthcheck bool
	// NetworkContainer is --network container:NAME: the named container's
	// network namespace, hostname, hosts and resolv.conf, shared.
	NetworkContainer string
	// Namespaces are --pid, --ipc and --uts.
	Namespaces Namespaces
	// CgroupParent is --cgroup-parent: the cgroup the container's is made
	// under, instead of /berth. CgroupNS is --cgroupns: "" or "private"
	// for a cgroup namespace of its own, "host" for the host's.
	CgroupParent, CgroupNS string
	// DeviceCgroupRules are --device-cgroup-rule's (runtime.ParseDeviceRule
	// reads Docker's "c 1:3 mr").
	DeviceCgroupRules []specs.LinuxDeviceCgroup
	// Annotations are --annotation's, the OCI spec's.
	Annotations map[string]string
	// Links are --link NAME[:ALIAS]: the alias resolves to that container
	// for this one only.
	Links []Link
	// NoNetwork is --network none: loopback only. With neither, nor
	// Networks, the container joins the default network.
	NoNetwork bool
	// IP is a static address on the first network (--ip).
	IP netip.Addr
	// MacAddress is the first network's MAC (--mac-address).
	MacAddress string
	// Endpoints are settings by network (as Networks names it): a static
	// address, a MAC and an interface name on any network.
	Endpoints map[string]record.EndpointSettings
	// Ports are published ports (-p); PublishAll also publishes every
	// port the image exposes and Expose adds (-P, --expose).
	Ports      []netns.PortMapping
	PublishAll bool
	Expose     []netns.PortMapping
	// Aliases are more DNS names on the first network (--network-alias).
	Aliases []string
	// NetworkAliases are more DNS names by network (compose's service
	// name and aliases).
	NetworkAliases map[string][]string
	// ExtraHosts are /etc/hosts entries (--add-host); host-gateway is the
	// first network's gateway.
	ExtraHosts []ExtraHost
	// DNS, DNSSearch and DNSOptions replace the host's resolv.conf
	// nameservers, search domains and options (--dns, --dns-search,
	// --dns-option).
	DNS, DNSSearch, DNSOptions []string
	// Init runs berth-init as the container's PID 1 in front of the
	// command: it forwards signals and reaps orphans.
	Init bool
	// Mounts are volumes, binds and tmpfs (-v, --mount).
	Mounts []volumes.Spec
	// VolumesFrom are containers whose volumes and binds this one mounts
	// at the same places (--volumes-from).
	VolumesFrom []VolumeFrom
	// LogMaxSize (bytes) and LogMaxFile rotate the log, as Docker's
	// json-file max-size and max-file do; 0 keeps one unbounded file.
	LogMaxSize int64
	LogMaxFile int
	CapAdd     []string
	CapDrop    []string
	Resources  runtime.Resources
	// Pull is "missing" (the default), "always" or "never".
	Pull     string
	Progress Progress
}

// Create makes a container from an image, pulling it when missing as
// `docker run` does, and returns its record. Nothing runs until Start.
//
// It is a sequence of steps whose order is the order of their effects:
// resolve reads what the options name (other containers, networks: the
// default network is made on first use, as Docker has one), pull makes
// the image and its layers present, spec builds the record in memory,
// volumeRequests lists the mounts, and only commit changes the container
// store. An error before commit leaves no container (an image pulled, or
// the default network, stays, as in Docker); commit writes an intent
// first, so that it completes or, cut short, is rolled back (see intent).
func (m *Manager) Create(ctx context.Context, o CreateOptions) (*record.Record, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r, err := m.resolve(ctx, &o)
	if err != nil {
		return nil, err
	}
	img, err := m.pull(ctx, o)
	if err != nil {
		return nil, err
	}
	rec, err := m.spec(o, r, img)
	if err != nil {
		return nil, err
	}
	req, fresh, err := m.volumeRequests(ctx, o, img.config)
	if err != nil {
		return nil, err
	}
	if err := m.commit(ctx, rec, req, fresh, img.lowers); err != nil {
		return nil, err
	}
	return rec, nil
}

// resolved is what a create's options name, as the record keeps it.
type resolved struct {
	policy           record.RestartPolicy
	netOwner         string // the ID of --network container:NAME's
	pidMode, ipcMode string // container:ID for another container's
	warnings         []string
	links            []string // NAME:ALIAS by the target's own name
	endpoints        map[string]record.EndpointSettings
	aliases          map[string][]string
}

// resolve is the first step: it turns the names in o (other containers
// for the network, namespaces and links; networks) into what the record
// keeps, fills in the defaults that depend on this host (cgroup limits,
// the host's hostname, the default network), and settles o for the
// steps after it. It only reads, besides making the default network on
// first use; on error nothing of the container exists.
func (m *Manager) resolve(ctx context.Context, o *CreateOptions) (resolved, error) {
	r := resolved{policy: o.Restart}
	r.policy.Name = cmp.Or(r.policy.Name, "no")
	if o.NetworkContainer != "" {
		owner, err := m.Get(ctx, o.NetworkContainer)
		if err != nil {
			return r, err
		}
		o.Hostname, r.netOwner = owner.Record.Config.Hostname, owner.Record.ID
	}
	var err error
	if r.pidMode, r.ipcMode, err = m.resolveNamespaces(ctx, o.Namespaces); err != nil {
		return r, err
	}
	// Docker's defaults and what this host's cgroups can do: the record,
	// and so inspect, says what the container runs with
	if r.warnings, err = runtime.Adapt(&o.Resources); err != nil {
		return r, errclass.Wrap(ErrInvalid, err, err.Error())
	}
	if o.CgroupNS == "private" {
		o.CgroupNS = ""
	}
	if o.Namespaces.UTS == runtime.Host {
		o.Hostname, _ = os.Hostname() // the host's is the container's
	}
	for _, l := range o.Links {
		target, err := m.Get(ctx, l.Name)
		if err != nil {
			return r, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("could not get container for %s", l.Name))
		}
		r.links = append(r.links, l.record(target.Record.Name))
	}
	if r.endpoints, r.aliases, err = m.resolveNetworks(ctx, o); err != nil {
		return r, err
	}
	return r, checkPorts(o.Ports)
}

// resolveNetworks is resolve's part for networks: o.Networks become the
// networks' names (the default one when none is asked for), each checked
// as it will be joined, and the settings and aliases asked for by
// reference are keyed by those names.
func (m *Manager) resolveNetworks(ctx context.Context, o *CreateOptions) (map[string]record.EndpointSettings, map[string][]string, error) {
	if len(o.Networks) == 0 && !o.HostNetwork && !o.NoNetwork && o.NetworkContainer == "" {
		o.Networks = []string{netns.DefaultNetwork}
	}
	// checked as each network will be joined: --ip and --mac-address
	// are the first network's
	asked := record.HostConfig{IPv4Address: o.IP, MacAddress: o.MacAddress, Endpoints: o.Endpoints}
	settings := []record.EndpointSettings{{IPv4Address: o.IP}} // no network: --ip is refused
	if len(o.Networks) > 0 {
		settings = make([]record.EndpointSettings, len(o.Networks))
		for i, ref := range o.Networks {
			settings[i] = asked.Endpoint(ref, i)
		}
	}
	refs := o.Networks
	var err error
	if o.Networks, err = networkNames(ctx, m.root, o.Networks, settings, len(o.Aliases) > 0); err != nil {
		return nil, nil, err
	}
	// kept by the name each resolved to; the first network's --ip and
	// --mac-address stay in their own fields
	var endpoints map[string]record.EndpointSettings
	for i, name := range o.Networks {
		if es, ok := o.Endpoints[refs[i]]; ok {
			if endpoints == nil {
				endpoints = map[string]record.EndpointSettings{}
			}
			endpoints[name] = es
		}
	}
	if o.HostNetwork {
		o.Ports, o.PublishAll = nil, false // Docker discards them, with a warning from the CLI
	}
	var aliases map[string][]string
	if len(o.Aliases) > 0 {
		aliases = map[string][]string{o.Networks[0]: o.Aliases}
	}
	for n, a := range o.NetworkAliases {
		if aliases == nil {
			aliases = map[string][]string{}
		}
		aliases[n] = append(aliases[n], a...)
	}
	return endpoints, aliases, nil
}

// source is the image a container is made from, present here.
type source struct {
	ref, id string
	config  v1.Config
	// lowers are its unpacked layers, top first: the rootfs's lower
	// directories.
	lowers []string
}

// pull is the second step: it makes o.Image present as o.Pull says
// (missing, always, never) and its layers unpacked. What it fetches and
// unpacks stays on error, as a pull does; nothing of the container
// exists yet.
func (m *Manager) pull(ctx context.Context, o CreateOptions) (source, error) {
	img, err := m.images.Lookup(o.Image)
	if err == nil && (img == nil && o.Pull != "never" || o.Pull == "always") {
		if o.Progress != nil && o.Pull != "always" {
			o.Progress.Line(fmt.Sprintf("Unable to find image '%s' locally", o.Image))
		}
		if err = m.images.Pull(ctx, o.Image, o.Progress); err == nil {
			img, err = m.images.Lookup(o.Image)
		}
	}
	if err == nil && img == nil {
		err = errclass.New(ErrNoImage, "No such image: %s", o.Image)
	}
	if err != nil {
		return source{}, err
	}
	lowers, err := m.images.Lowers(ctx, img)
	if err != nil {
		return source{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return source{}, err
	}
	id, _ := img.ConfigName()
	return source{ref: o.Image, id: id.String(), config: cf.Config, lowers: lowers}, nil
}

// spec is the third step: the record, runtime spec included, from the
// options over the image's config. It changes nothing outside memory,
// so an error (a port without a network, no command, an unknown user)
// leaves nothing behind. The record's mounts lack the volumes yet,
// which commit makes.
func (m *Manager) spec(o CreateOptions, r resolved, img source) (*record.Record, error) {
	id := record.NewID()
	name := o.Name
	if name == "" {
		name = RandomName()
	}
	hostname := o.Hostname
	if hostname == "" {
		hostname = id[:12]
	}
	ic := img.config
	exposed, err := exposedPorts(ic.ExposedPorts, nil)
	if err != nil {
		return nil, err
	}
	exposed = append(exposed, o.Expose...)
	if o.PublishAll {
		o.Ports = withPublishAll(o.Ports, exposed)
	}
	if len(o.Ports) > 0 && len(o.Networks) == 0 && !o.HostNetwork {
		return nil, errclass.New(ErrInvalid, "publishing ports needs a network: --network none has none")
	}
	p, err := newProcess(o, ic, img.lowers, hostname)
	if err != nil {
		return nil, err
	}
	dir := m.Store.Dir(id)
	rec := &record.Record{
		ID: id, Name: name, Image: img.ref, ImageID: img.id, Created: time.Now().UTC(),
		Path: p.argv[0], Args: p.argv[1:],
		Config: record.Config{Hostname: hostname, Domainname: o.Domainname, User: p.user, Env: p.env, Cmd: p.cmd, Entrypoint: p.entrypoint, WorkingDir: p.workdir,
			Labels: mergeLabels(ic.Labels, o.Labels), StopSignal: p.stopSignal, Tty: o.TTY, OpenStdin: o.Interactive,
			ExposedPorts: exposedList(exposed, o.Ports)},
		Host: record.HostConfig{AutoRemove: o.AutoRemove, RestartPolicy: r.policy, LogMaxSize: o.LogMaxSize, LogMaxFile: o.LogMaxFile,
			Networks: o.Networks, HostNetwork: o.HostNetwork, IPv4Address: o.IP, ExtraHosts: extraHosts(o.ExtraHosts), GroupAdd: o.GroupAdd,
			DNS: o.DNS, DNSSearch: o.DNSSearch, DNSOptions: o.DNSOptions, Ports: o.Ports, PublishAll: o.PublishAll, Aliases: r.aliases, MacAddress: o.MacAddress,
			NetworkContainer: r.netOwner, Links: r.links,
			Endpoints: r.endpoints,
			PidMode:   r.pidMode, IpcMode: r.ipcMode, UTSMode: o.Namespaces.UTS},
		Spec: runtime.Spec{
			ID: id, Hostname: hostname, Domainname: o.Domainname,
			Rootfs: runtime.Rootfs{Lowers: img.lowers, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"), ReadOnly: o.ReadOnly},
			Process: runtime.Process{Args: p.args, Env: p.env, Cwd: cmp.Or(p.workdir, "/"), UID: p.uid, GID: p.gid, AdditionalGIDs: p.groups,
				Terminal: o.TTY, Rlimits: o.Ulimits, NoNewPrivileges: o.NoNewPrivileges},
			CapAdd: o.CapAdd, CapDrop: o.CapDrop, Privileged: o.Privileged, Resources: o.Resources,
			Sysctls: namespacedSysctls(o), ShmSize: o.ShmSize, Devices: o.Devices, Unconfined: o.Unconfined, SeccompProfile: o.SeccompProfile, HostNetwork: o.HostNetwork,
			CgroupParent: o.CgroupParent, CgroupNS: o.CgroupNS, DeviceRules: o.DeviceCgroupRules, Annotations: o.Annotations,
			Mounts: []specs.Mount{
				bindFile(filepath.Join(dir, "hosts"), "/etc/hosts"),
				bindFile(filepath.Join(dir, "hostname"), "/etc/hostname"),
				bindFile(filepath.Join(dir, "resolv.conf"), "/etc/resolv.conf"),
			},
		},
	}
	rec.Spec.Mounts = append(append(rec.Spec.Mounts, o.Tmpfs...), p.mounts...)
	rec.Health = mergeHealth(imageHealthcheck(ic.Healthcheck), o.Healthcheck, o.NoHealthcheck)
	rec.Host.Init = o.Init
	rec.Warnings = r.warnings
	if o.StopTimeout != nil {
		rec.Host.StopTimeout = *o.StopTimeout
	} else {
		rec.Host.StopTimeout = 10
	}
	return rec, nil
}

// process is what the container runs, and as whom: the options over the
// image's config.
type process struct {
	entrypoint, cmd []string
	argv            []string // the command, as the record keeps it
	args            []string // what PID 1 runs: argv, behind berth-init with Init
	mounts          []specs.Mount
	env             []string
	user            string
	uid, gid        uint32
	groups          []uint32
	workdir         string
	stopSignal      string
}

// newProcess is spec's part for the process. It reads the image's
// /etc/passwd and /etc/group (in lowers) for the user.
func newProcess(o CreateOptions, ic v1.Config, lowers []string, hostname string) (process, error) {
	p := process{entrypoint: ic.Entrypoint, cmd: ic.Cmd}
	if o.Entrypoint != nil {
		p.entrypoint, p.cmd = o.Entrypoint, nil
	}
	if len(o.Cmd) > 0 {
		p.cmd = o.Cmd
	}
	p.argv = append(append([]string{}, p.entrypoint...), p.cmd...)
	if len(p.argv) == 0 {
		return p, errclass.New(ErrInvalid, "no command specified")
	}
	p.args = p.argv
	if o.Init {
		initPath, err := InitBinary()
		if err != nil {
			return p, err
		}
		p.mounts = append(p.mounts, specs.Mount{Destination: initMountPoint, Type: "bind", Source: initPath, Options: []string{"bind", "ro"}})
		p.args = append([]string{initMountPoint, "--"}, p.argv...)
	}
	p.env = mergeEnv(ic.Env, o.Env, hostname)
	p.user = cmp.Or(o.User, ic.User)
	var err error
	if p.uid, p.gid, p.groups, err = processUser(lowers, p.user, o.GroupAdd); err != nil {
		return p, err
	}
	p.workdir = cmp.Or(o.WorkDir, ic.WorkingDir)
	if p.workdir != "" && !filepath.IsAbs(p.workdir) { // the image's: Validate has checked the option
		return p, errclass.New(ErrInvalid, "the working directory %q is invalid: it needs to be an absolute path", p.workdir)
	}
	p.stopSignal = cmp.Or(o.StopSignal, ic.StopSignal)
	if _, err := ParseSignal(cmp.Or(p.stopSignal, "SIGTERM")); err != nil {
		return p, err
	}
	return p, nil
}

// volumeRequests is the fourth step: the mounts the container asks for
// (o.Mounts, --volumes-from's, and an anonymous volume for each of the
// image's VOLUMEs that no mount covers), with the anonymous volumes
// named ahead (fresh) so that commit's intent can name them before they
// exist. It only reads other containers' records.
func (m *Manager) volumeRequests(ctx context.Context, o CreateOptions, ic v1.Config) (req []volumes.Spec, fresh []string, err error) {
	req = slices.Clone(o.Mounts)
	from, err := m.volumesFrom(ctx, o.VolumesFrom)
	if err != nil {
		return nil, nil, err
	}
	req = append(req, from...)
	for _, target := range sortedKeys(ic.Volumes) {
		if !slices.ContainsFunc(req, func(sp volumes.Spec) bool { return filepath.Clean(sp.Target) == filepath.Clean(target) }) {
			req = append(req, volumes.Spec{Type: "volume", Target: target})
		}
	}
	for i, sp := range req {
		if sp.Type == "volume" && sp.Source == "" {
			req[i].Source, req[i].Anonymous = volumes.NewName(), true
			fresh = append(fresh, req[i].Source)
		}
	}
	return req, fresh, nil
}

// commit is the last step, and the only one that changes the container
// store: an intent naming the fresh volumes, the volumes made (and
// filled from the image, lowers) and added to rec, the record and state,
// the /etc files, then the intent's removal. Anonymous volumes are named
// in the intent before they are made, so that a create cut short
// anywhere leaves none that no container names: on error commit rolls
// back what it made; killed, the next command's sweep does (see intent).
func (m *Manager) commit(ctx context.Context, rec *record.Record, req []volumes.Spec, fresh, lowers []string) error {
	if err := m.begin(ctx, rec.ID, "create", fresh); err != nil {
		return err
	}
	crash.Point("create-intent")
	made := false
	defer func() {
		if made {
			return
		}
		// only the volumes it made: those it was to reuse are a recreated
		// container's, which its next attempt takes (engine's handover).
		// Cancelled or not, the clean-up is done: a sibling's failure
		// cancels this create, and must not leave its volumes behind
		m.finish(context.WithoutCancel(ctx), rec.ID, fresh)
	}()
	vmounts, used, err := m.describeMounts(ctx, rec.ID, req, lowers)
	if err != nil {
		return err
	}
	crash.Point("create-volumes")
	rec.Spec.Mounts = append(rec.Spec.Mounts, vmounts...)
	for _, u := range used {
		rec.Volumes = append(rec.Volumes, record.Volume(u))
	}
	if err := m.Store.Create(ctx, rec); err != nil {
		return err
	}
	crash.Point("create-record")
	if err := monitor.WriteEtc(m.Store.Dir(rec.ID), rec); err != nil {
		return err
	}
	m.done(rec.ID)
	made = true
	return nil
}

// extraHosts are the record's NAME:IP entries.
func extraHosts(hosts []ExtraHost) []string {
	var out []string
	for _, h := range hosts {
		out = append(out, h.String())
	}
	return out
}

func bindFile(src, dst string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}}
}

// mergeEnv is the image's environment overridden by the user's, with PATH
// and HOSTNAME defaults as Docker sets them.
func mergeEnv(imageEnv, userEnv []string, hostname string) []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=" + hostname}
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		for i, e := range env {
			if strings.HasPrefix(e, k+"=") {
				env[i] = kv
				return
			}
		}
		env = append(env, kv)
	}
	for _, kv := range imageEnv {
		set(kv)
	}
	for _, kv := range userEnv {
		if !strings.Contains(kv, "=") {
			if v, ok := os.LookupEnv(kv); ok {
				kv += "=" + v // -e NAME passes the caller's value, as in Docker
			} else {
				continue
			}
		}
		set(kv)
	}
	return env
}

// namespacedSysctls are the container's sysctls, with Docker's defaults
// for a network namespace of its own: any user may bind a port below 1024
// (ip_unprivileged_port_start 0: a non-root nginx or redis binds :80 as in
// Docker) and send pings (ping_group_range over every group). Not for the
// host's namespace, nor another container's, whose settings are theirs.
func namespacedSysctls(o CreateOptions) map[string]string {
	if o.HostNetwork || o.NetworkContainer != "" {
		return o.Sysctls
	}
	out := map[string]string{"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"}
	maps.Copy(out, o.Sysctls)
	return out
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// Attach connects the caller to a started container: its output, its exit
// and, with Stdin, its input.
type Attach struct {
	Stdout, Stderr io.Writer
	// Stdin, when not nil, is copied to the container (-i).
	Stdin io.Reader
	// Terminal is the caller's terminal when the container has a TTY: it
	// is put in raw mode while attached, and its size is the container's.
	Terminal *os.File
}

// AttachFor is what of the caller's streams attaches to the container
// made as rec, as -i and -t ask: the output always, stdin when the
// container keeps it open, the terminal when it has a TTY.
func AttachFor(s proc.Streams, rec *record.Record) *Attach {
	a := &Attach{Stdout: s.Stdout, Stderr: s.Stderr}
	if rec.Config.OpenStdin {
		a.Stdin = s.Stdin
	}
	if rec.Config.Tty {
		a.Terminal = s.Terminal
	}
	return a
}

// Start runs the container's monitor and returns once the process runs,
// or, attached, once it has exited, with its exit code. A process that
// could not start gives Docker's 125, 126 or 127 and the reason.
func (m *Manager) Start(ctx context.Context, ref string, attach *Attach) (int, error) {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	if e.State.Running() {
		if attach == nil {
			return 0, nil // docker start of a running container is a no-op
		}
		return 0, errclass.New(ErrState, "container %s is already running", e.Record.Name)
	}
	if e.State.Status != record.Restarting && !monitor.Of(e.State, e.Record.ID) && keeperOf(e.State) {
		// another start's keeper, whose monitor has not started the
		// container yet (that start's command may have been killed
		// meanwhile): its outcome first, or two monitors would race
		if st, ok := m.awaitStart(ctx, e.Record.ID, e.State); ok && st.Running() {
			if attach == nil {
				return 0, nil
			}
			return 0, errclass.New(ErrState, "container %s is already running", e.Record.Name)
		}
		if e, err = m.Get(ctx, ref); err != nil {
			return 0, err
		}
	}
	if e.State.Status != record.Restarting && monitor.Of(e.State, e.Record.ID) {
		// the last run's monitor is still cleaning up after its exit: a
		// new one would find that run's runtime container still there
		if err := monitor.WaitProcess(ctx, e.State.MonitorPid, -1); err != nil {
			return 0, err
		}
	}
	// what the last run left, if its monitor could not clean up (a down
	// halted it and did not remove it, or the monitor could not exec)
	if _, err := os.Stat(filepath.Join(monitor.RunDir(m.root), e.Record.ID)); err == nil {
		monitor.CleanRuntime(m.root, m.Store, e.Record.ID)
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer statusR.Close()
	// the keeper (package keeper) runs the monitor as its child, once it
	// has the go-ahead on its descriptor 3: first it is moved out of this
	// command's cgroup, so that nothing it starts is in it
	goR, goW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer goW.Close()
	keeper, kargs := keeperBinary(self)
	args := append(kargs, monitorBinary(self), "--root", m.root, "__monitor", e.Record.ID)
	extra := []*os.File{goR, statusW}
	var outR, errR *os.File
	if attach != nil {
		var outW, errW *os.File
		if outR, outW, err = os.Pipe(); err != nil {
			return 0, err
		}
		if errR, errW, err = os.Pipe(); err != nil {
			return 0, err
		}
		extra = append(extra, outW, errW)
		args = append(args, "--attached")
		defer outR.Close()
		defer errR.Close()
		if attach.Stdin != nil {
			inR, inW, err := os.Pipe()
			if err != nil {
				return 0, err
			}
			extra = append(extra, inR)
			args = append(args, "--stdin")
			go func() { io.Copy(inW, attach.Stdin); inW.Close() }()
		}
		if t := attach.Terminal; t != nil && term.IsTerminal(int(t.Fd())) {
			if ws, err := unix.IoctlGetWinsize(int(t.Fd()), unix.TIOCGWINSZ); err == nil {
				args = append(args, fmt.Sprintf("--tty-size=%d,%d", ws.Row, ws.Col))
			}
			if old, err := term.MakeRaw(int(t.Fd())); err == nil {
				defer term.Restore(int(t.Fd()), old)
			}
		}
	}
	cmd := exec.Command(keeper, args...)
	cmd.ExtraFiles = extra
	// its own session: the container outlives this command and a Ctrl-C
	// sent to the terminal's process group
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting the monitor of %s: %w", e.Record.Name, err)
	}
	for _, f := range extra {
		f.Close()
	}
	go cmd.Wait() // reaped here if this command outlives it
	// a start undoes a stop: the restart policy applies again. The
	// keeper is recorded before it may go on, so that a start that comes
	// while it starts the container waits for it (see above)
	kstart, _ := runtime.StartTime(cmd.Process.Pid)
	if _, err := m.Store.Update(ctx, e.Record.ID, func(st *record.State) error {
		st.StopRequested, st.Halted, st.Signals, st.Stopped = false, false, nil, false
		st.Keeper, st.KeeperStart = cmd.Process.Pid, kstart
		return nil
	}); err != nil {
		return 0, err // the keeper ends without its go-ahead
	}
	crash.Point("start-keeper")
	// out of this command's cgroup before the keeper starts anything. A
	// keeper that cannot be moved (no cgroup hierarchy writable here, as
	// in an unprivileged container) still runs the monitor: the container
	// runs, only not beyond this command's cgroup.
	runtime.PlaceMonitor(ctx, cmd.Process.Pid, e.Record.ID)
	if _, err := goW.Write([]byte{1}); err != nil {
		return 0, fmt.Errorf("starting the monitor of %s: %w", e.Record.Name, err)
	}
	goW.Close()
	crash.Point("start-go") // the monitor starts the container on its own
	copied := make(chan struct{}, 2)
	if attach != nil {
		go func() { io.Copy(attach.Stdout, outR); copied <- struct{}{} }()
		go func() { io.Copy(attach.Stderr, errR); copied <- struct{}{} }()
	}
	lines := bufio.NewScanner(statusR)
	first, err := monitor.ReadReport(lines)
	switch {
	case err == io.EOF:
		return ExitStartFailed, fmt.Errorf("the monitor of %s ended without starting it", e.Record.Name)
	case err != nil:
		return ExitStartFailed, fmt.Errorf("starting %s: %w", e.Record.Name, err)
	case first.Kind == monitor.ReportFailed:
		return first.Code, fmt.Errorf("failed to start container %s: %s", e.Record.Name, first.Error)
	case first.Kind != monitor.ReportStarted:
		return ExitStartFailed, fmt.Errorf("starting %s: the monitor said %q before the start", e.Record.Name, first.Kind)
	}
	if attach == nil {
		return 0, nil
	}
	<-copied
	<-copied
	for {
		st, err := monitor.ReadReport(lines)
		switch {
		case err == io.EOF:
			return ExitStartFailed, fmt.Errorf("the monitor of %s ended without reporting an exit", e.Record.Name)
		case err != nil:
			return ExitStartFailed, fmt.Errorf("waiting for %s: %w", e.Record.Name, err)
		case st.Kind == monitor.ReportExited:
			return st.Code, nil
		}
	}
}

// Stop sends the container its stop signal and, after timeout (the
// container's own when negative), SIGKILL; it returns once it has exited
// and its monitor has cleaned up after it.
func (m *Manager) Stop(ctx context.Context, ref string, timeout time.Duration, sig string) error {
	_, err := m.stop(ctx, ref, timeout, sig, stopByUser)
	return err
}

// stopMode says who stops a container, which decides what is recorded.
type stopMode int

const (
	stopByUser   stopMode = iota // stop, restart: a stop event follows the die
	stopToRemove                 // rm -f: kill and die only, as Docker logs it
	stopToHalt                   // down: Halt, then a removal
)

// Halt is Stop returning as soon as the container's exit is recorded and
// it is off its networks, while its monitor still cleans up after it
// (unmounts its root, tens of milliseconds): work that needs only nothing
// to run any more, such as removing the networks it was on, can overlap
// that. Remove waits for the monitor.
func (m *Manager) Halt(ctx context.Context, ref string, timeout time.Duration, sig string) error {
	id, err := m.stop(ctx, ref, timeout, sig, stopToHalt)
	if err != nil {
		return err
	}
	// off its networks now, if its monitor has not got there yet: the
	// networks are what comes next
	return monitor.LeaveAfterExit(ctx, m.root, m.Store, id)
}

// stop is Stop, Halt and rm -f's stop, as mode says; it returns the
// container's ID.
func (m *Manager) stop(ctx context.Context, ref string, timeout time.Duration, sig string, mode stopMode) (string, error) {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return "", err
	}
	id := e.Record.ID
	halt := mode == stopToHalt
	wait := m.waitGone
	if halt {
		wait = m.waitExited
	}
	signal, err := ParseSignal(cmp.Or(sig, cmp.Or(e.Record.Config.StopSignal, "SIGTERM")))
	if err != nil {
		return id, err
	}
	st, err := m.Store.Update(ctx, id, func(st *record.State) error {
		st.StopRequested, st.Halted = true, halt
		if st.Running() {
			st.Signals = append(st.Signals, int(signal))
			st.Stopped = mode != stopToRemove
		}
		return nil
	})
	if err != nil {
		return id, err
	}
	if st.Status == record.Restarting && monitor.Of(st, id) {
		unix.Kill(st.MonitorPid, unix.SIGUSR1)
	}
	if !st.Running() {
		return id, wait(ctx, id, st, -1)
	}
	if timeout < 0 {
		timeout = time.Duration(e.Record.Host.StopTimeout) * time.Second
	}
	if st.Status == record.Paused {
		monitor.Thaw(e.Record.Spec)
	}
	unix.Kill(st.Pid, signal)
	if err := wait(ctx, id, st, timeout); err == nil {
		return id, nil
	}
	// killed whether or not the signal is recorded: the grace period is over
	_, serr := m.Store.Update(ctx, id, func(st *record.State) error {
		st.Signals = append(st.Signals, int(unix.SIGKILL))
		return nil
	})
	if errors.Is(serr, ErrNotFound) {
		serr = nil // exited and removed (--rm) meanwhile
	}
	unix.Kill(st.Pid, unix.SIGKILL)
	return id, errors.Join(wait(ctx, id, st, -1), serr)
}

// Kill sends a signal to the container's process.
func (m *Manager) Kill(ctx context.Context, ref string, sig string) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	signal, err := ParseSignal(cmp.Or(sig, "SIGKILL"))
	if err != nil {
		return err
	}
	st, err := m.Store.Update(ctx, e.Record.ID, func(st *record.State) error {
		if !st.Running() {
			return errclass.New(ErrState, "cannot kill container %s: container is not running", e.Record.Name)
		}
		if signal == unix.SIGKILL || signal == unix.SIGTERM {
			st.StopRequested = true
		}
		st.Signals = append(st.Signals, int(signal))
		return nil
	})
	if err != nil {
		return err
	}
	return unix.Kill(st.Pid, signal)
}

// Wait blocks until the container is stopped and returns its exit code,
// also when it is removed as it stops (--rm), as long as its exit was seen
// recorded first.
func (m *Manager) Wait(ctx context.Context, ref string) (int, error) {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	id, code := e.Record.ID, e.State.ExitCode
	if e.State.Running() || e.State.Status == record.Restarting {
		if code, err = m.watchExit(ctx, id, e.State, -1); err != nil {
			return 0, err
		}
	}
	if e, err := m.Store.Get(id); err == nil {
		code = e.State.ExitCode
	}
	return code, nil
}

// Get finds a container and makes its state true (see Refresh).
func (m *Manager) Get(ctx context.Context, ref string) (record.Entry, error) {
	e, err := m.Store.Get(ref)
	if err != nil {
		return e, err
	}
	return m.Refresh(ctx, e), nil
}

// List is every container, states made true (see Refresh).
func (m *Manager) List(ctx context.Context) ([]record.Entry, error) {
	all, err := m.Store.List()
	for i := range all {
		all[i] = m.Refresh(ctx, all[i])
	}
	return all, err
}

// volumesFrom is what --volumes-from asks for: the other containers'
// volumes and bind mounts, at the same targets, read-only with :ro.
func (m *Manager) volumesFrom(ctx context.Context, from []VolumeFrom) ([]volumes.Spec, error) {
	var out []volumes.Spec
	for _, vf := range from {
		name, mode := vf.Container, vf.Mode
		e, err := m.Get(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, u := range e.Record.Volumes {
			out = append(out, volumes.Spec{Type: "volume", Source: u.Name, Target: u.Target, ReadOnly: mode == "ro", NoCopy: true})
		}
		own := m.Store.Dir(e.Record.ID)
		for _, mnt := range e.Record.Spec.Mounts {
			if mnt.Type != "bind" || strings.HasPrefix(mnt.Source, own) || mnt.Destination == initMountPoint {
				continue // its /etc/hosts and the like are its own
			}
			if slices.ContainsFunc(e.Record.Volumes, func(u record.Volume) bool { return u.Target == mnt.Destination }) {
				continue // a volume, added above
			}
			ro := mode == "ro" || (mode == "" && slices.Contains(mnt.Options, "ro"))
			out = append(out, volumes.Spec{Type: "bind", Source: mnt.Source, Target: mnt.Destination, ReadOnly: ro})
		}
	}
	return out, nil
}

// describeMounts asks the volume store for the mounts, copying the image's
// files into empty volumes through a read-only view of its layers, mounted
// by the runtime only if a volume needs it.
// The view is at the create's own place beside its intent (Manager.viewPath),
// so that a create killed with it mounted leaves it to Sweep.
func (m *Manager) describeMounts(ctx context.Context, id string, req []volumes.Spec, lowers []string) ([]specs.Mount, []volumes.Used, error) {
	view := ""
	defer func() {
		if view != "" {
			runtime.Unmount(view)
			os.Remove(view)
		}
	}()
	copyUp := func(target, dst string) error {
		if view == "" {
			dir := m.viewPath(id)
			if err := runtime.MountLowers(lowers, dir); err != nil {
				os.Remove(dir)
				return err
			}
			view = dir
			crash.Point("create-view")
		}
		src, err := securejoin.SecureJoin(view, target)
		if err != nil {
			return err
		}
		return volumes.CopyTree(ctx, src, dst)
	}
	return m.Volumes.Describe(ctx, req, nil, copyUp)
}

// Remove deletes a container; a running one only with force (killed first).
// With removeVolumes its anonymous volumes go too (rm -v); named volumes
// never do.
func (m *Manager) Remove(ctx context.Context, ref string, force bool, removeVolumes ...bool) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if e.State.Running() || e.State.Status == record.Restarting {
		if !force {
			return errclass.New(ErrConflict, "cannot remove container %q: container is running: stop the container before removing or force remove", "/"+e.Record.Name)
		}
		if _, err := m.stop(ctx, e.Record.ID, 0, "SIGKILL", stopToRemove); err != nil {
			return err
		}
	}
	// an exited container's monitor may still be cleaning up after it
	// (after Halt, or an exit of its own): its root is still mounted
	if monitor.Of(e.State, e.Record.ID) {
		if err := monitor.WaitProcess(ctx, e.State.MonitorPid, -1); err != nil {
			return err
		}
	}
	// from here on the removal is carried through by whoever comes next
	// should this process be killed (see intent)
	var vols []string
	if len(removeVolumes) > 0 && removeVolumes[0] {
		for _, u := range e.Record.Volumes {
			if u.Anonymous {
				vols = append(vols, u.Name)
			}
		}
	}
	if err := m.begin(ctx, e.Record.ID, "remove", vols); err != nil {
		return err
	}
	crash.Point("remove-intent")
	if _, err := m.Store.Update(ctx, e.Record.ID, func(st *record.State) error { return st.To(record.Removing) }); err != nil && !errors.Is(err, ErrState) {
		m.done(e.Record.ID)
		return err
	}
	return m.finish(context.WithoutCancel(ctx), e.Record.ID, vols)
}

// Prune removes every container that does not run, as docker container
// prune does, and names those it removed. One that cannot be removed
// (another command's at the moment) is left, as Docker leaves it; their
// anonymous volumes stay too, for volume prune to take.
func (m *Manager) Prune(ctx context.Context) ([]string, error) {
	entries, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if e.State.Running() || e.State.Status == record.Restarting {
			continue
		}
		if err := m.Remove(ctx, e.Record.ID, false); err == nil {
			removed = append(removed, e.Record.ID)
		}
	}
	return removed, nil
}

// ParseRestart reads Docker's --restart value.
func ParseRestart(s string) (record.RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := record.RestartPolicy{Name: cmp.Or(name, "no")}
	switch p.Name {
	case "no", "always", "unless-stopped":
		if hasCount {
			return p, errclass.New(ErrInvalid, "invalid restart policy %q: maximum retry count can only be used with 'on-failure'", s)
		}
	case "on-failure":
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, errclass.New(ErrInvalid, "invalid restart policy %q: maximum retry count must be a positive integer", s)
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, errclass.New(ErrInvalid, "invalid restart policy %q", s)
	}
	return p, nil
}

// ParseSignal reads a signal by name (SIGTERM, TERM) or number.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, errclass.New(ErrInvalid, "invalid signal: %s", s)
}

// EnsureImage makes the image ref present as the pull policy says:
// "always" pulls, "never" only looks, anything else pulls when missing.
func (m *Manager) EnsureImage(ctx context.Context, ref, policy string, progress Progress) error {
	img, err := m.images.Lookup(ref)
	switch {
	case err != nil:
		return err
	case policy == "always", img == nil && policy != "never":
		return m.images.Pull(ctx, ref, progress)
	case img == nil:
		return errclass.New(ErrNoImage, "No such image: %s", ref)
	}
	return nil
}

// ImageTagged is when the local ref was last pulled, loaded or tagged;
// zero when there is none: what a refresh pull policy (daily) weighs.
func (m *Manager) ImageTagged(ref string) time.Time { return m.images.Tagged(ref) }

// ImageID is the config digest of the local image ref names, "" when there
// is none: what tells a plan that a service's image was updated.
func (m *Manager) ImageID(ref string) string {
	img, err := m.images.Lookup(ref)
	if err != nil || img == nil {
		return ""
	}
	id, err := img.ConfigName()
	if err != nil {
		return ""
	}
	return id.String()
}

// keeperBinary is the program that runs a container's keeper, with the
// arguments before the monitor's command line: berth-keeper beside berth
// (make build puts it there), a small static program, else berth-monitor
// or berth itself, whose hidden __keeper runs the same code.
func keeperBinary(self string) (string, []string) {
	dir := filepath.Dir(self)
	for _, name := range []string{"berth-keeper", "berth-monitor"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name), []string{"__keeper"}
		}
	}
	return self, []string{"__keeper"}
}

// initMountPoint is where --init's reaper appears in a container, as
// Docker's does.
const initMountPoint = "/sbin/docker-init"

// monitorBinary is the program that runs a container's monitor:
// berth-monitor beside berth (make build puts it there), which carries only
// what a monitor needs and so takes less memory per container, else berth
// itself (its hidden __monitor command), which runs the same code.
func monitorBinary(self string) string {
	p := filepath.Join(filepath.Dir(self), "berth-monitor")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return self
}

// InitBinary finds berth-init, the static reaper that --init runs: beside
// the berth binary, where make build puts it.
func InitBinary() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(self), "berth-init")
	if _, err := os.Stat(p); err != nil {
		return "", errclass.New(ErrInvalid, "--init needs berth-init beside %s (make build puts it there)", self)
	}
	return p, nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
