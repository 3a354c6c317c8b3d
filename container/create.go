package container

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/volumes"
)

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
