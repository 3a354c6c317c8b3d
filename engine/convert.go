package engine

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/volumes"
)

// converted is a service converted once for an up: the settings all its
// containers share, and the warnings the conversion gave, said again as
// each container is made.
type converted struct {
	opts     container.CreateOptions
	warnings []string
}

// convert converts the service s once for all its containers (see
// replica), with the hash of its configuration.
func convert(p *project.Project, s types.ServiceConfig) (converted, error) {
	hash, err := project.ServiceHash(s)
	if err != nil {
		return converted{}, err
	}
	var c converted
	c.opts, err = serviceOptions(p, s, hash, func(w string) { c.warnings = append(c.warnings, w) })
	return c, err
}

// replica is the settings of the service's container number n: the
// service's, with its own name and number, and the anonymous volumes
// (anon, by target) it takes over from a predecessor. What a create may
// change (labels, mounts, aliases) is its own copy.
func (c converted) replica(p *project.Project, s types.ServiceConfig, n int, anon map[string]string) container.CreateOptions {
	o := c.opts
	o.Name = ContainerName(p.Name, s.Name, s.ContainerName, n)
	o.Labels = maps.Clone(o.Labels)
	o.Labels[LabelNumber] = strconv.Itoa(n)
	o.Mounts = slices.Clone(o.Mounts)
	for i, m := range o.Mounts {
		if m.Type == types.VolumeTypeVolume && m.Source == "" {
			o.Mounts[i].Source = anon[m.Target]
		}
	}
	if o.NetworkAliases != nil {
		o.NetworkAliases = maps.Clone(o.NetworkAliases)
	}
	return o
}

// containerOptions is the settings of the service's container number n
// (see convert and replica), warnings given to warn.
func containerOptions(p *project.Project, s types.ServiceConfig, n int, hash string, anon map[string]string, warn func(string)) (container.CreateOptions, error) {
	o, err := serviceOptions(p, s, hash, warn)
	if err != nil {
		return o, err
	}
	return converted{opts: o}.replica(p, s, n, anon), nil
}

// serviceOptions turns a service into the settings its containers share:
// compose's keys mapped onto container.CreateOptions, built from
// compose's types, plus the compose labels, and validated as `container
// create`'s flags are (CreateOptions.Validate). The name and number are
// the first container's.
func serviceOptions(p *project.Project, s types.ServiceConfig, hash string, warn func(string)) (container.CreateOptions, error) {
	bad := func(format string, args ...any) error {
		return errclass.New(ErrInvalid, "service %q: "+format, append([]any{s.Name}, args...)...)
	}
	o := container.CreateOptions{
		Name: ContainerName(p.Name, s.Name, s.ContainerName, 1), Image: p.ImageName(s),
		Cmd: s.Command, WorkDir: s.WorkingDir, User: s.User, Hostname: s.Hostname, Domainname: s.DomainName,
		StopSignal: s.StopSignal, Privileged: s.Privileged, ReadOnly: s.ReadOnly,
		TTY: s.Tty, Interactive: s.StdinOpen, Sysctls: s.Sysctls, ShmSize: int64(s.ShmSize), GroupAdd: s.GroupAdd,
		CapAdd: s.CapAdd, CapDrop: s.CapDrop, DNS: s.DNS, DNSSearch: s.DNSSearch, DNSOptions: s.DNSOpts,
		Init: s.Init != nil && *s.Init, Pull: pullPolicy(s.PullPolicy),
	}
	var err error
	if o.Restart, err = restartPolicy(s); err != nil {
		return o, bad("%v", err)
	}
	for _, e := range s.Expose {
		ms, err := container.ParseExpose(e)
		if err != nil {
			return o, bad("%v", err)
		}
		o.Expose = append(o.Expose, ms...)
	}
	if s.Entrypoint != nil {
		o.Entrypoint = s.Entrypoint
	}
	o.Env = envList(s.Environment)
	o.Labels = maps.Clone(s.Labels)
	if o.Labels == nil {
		o.Labels = map[string]string{}
	}
	maps.Copy(o.Labels, map[string]string{
		LabelProject: p.Name, LabelService: s.Name, LabelNumber: "1", LabelOneoff: "False",
		LabelHash: hash, LabelWorkingDir: p.WorkingDir, LabelConfigFiles: strings.Join(p.ComposeFiles, ","),
		LabelVersion: ComposeVersion, LabelDependsOn: dependsOnLabel(s),
	})
	if len(p.EnvFiles) > 0 {
		o.Labels[LabelEnvFiles] = strings.Join(p.EnvFiles, ",")
	}
	if s.StopGracePeriod != nil {
		t := int(time.Duration(*s.StopGracePeriod).Seconds())
		o.StopTimeout = &t
	}
	for name, u := range s.Ulimits {
		soft, hard := u.Soft, u.Hard
		if u.Single != 0 {
			soft, hard = u.Single, u.Single
		}
		o.Ulimits = append(o.Ulimits, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: uint64(soft), Hard: uint64(hard)})
	}
	for _, t := range s.Tmpfs {
		m, err := container.ParseTmpfs(t)
		if err != nil {
			return o, bad("%v", err)
		}
		o.Tmpfs = append(o.Tmpfs, m)
	}
	for _, d := range s.Devices {
		o.Devices = append(o.Devices, runtime.Device{Host: d.Source, Container: d.Target, Permissions: d.Permissions})
	}
	// the parser `container create` uses for --security-opt; a seccomp
	// profile's path is the project's, as compose reads it
	for _, so := range s.SecurityOpt {
		read := func(path string) ([]byte, error) {
			if !filepath.IsAbs(path) {
				path = filepath.Join(p.WorkingDir, path)
			}
			return os.ReadFile(path)
		}
		if err := o.SecurityOpt(so, read); err != nil {
			return o, bad("%v", err)
		}
	}
	o.Resources = resources(s)
	o.CgroupParent, o.CgroupNS = s.CgroupParent, s.Cgroup
	for _, r := range s.DeviceCgroupRules {
		rule, err := runtime.ParseDeviceRule(r)
		if err != nil {
			return o, bad("%v", err)
		}
		o.DeviceCgroupRules = append(o.DeviceCgroupRules, rule)
	}
	if len(s.Annotations) > 0 {
		o.Annotations = map[string]string(s.Annotations)
	}
	switch s.UserNSMode {
	case "", "host": // berth has no user namespaces: the host's is every container's
	default:
		return o, bad("userns_mode %q is not supported: berth runs containers in the host's user namespace", s.UserNSMode)
	}
	switch s.Runtime {
	case "", "runc":
	default:
		return o, bad("runtime %q is not supported: berth runs containers with runc's libcontainer", s.Runtime)
	}
	// pid and ipc: service:NAME is that service's first container
	o.Namespaces.UTS = s.Uts
	for _, ns := range []struct {
		key, mode string
		to        *container.NamespaceMode
	}{{"pid", s.Pid, &o.Namespaces.PID}, {"ipc", s.Ipc, &o.Namespaces.IPC}} {
		*ns.to = container.ParseNamespaceMode(ns.mode)
		if svc, ok := strings.CutPrefix(ns.mode, types.ServicePrefix); ok {
			other, err := p.GetService(svc)
			if err != nil {
				return o, bad("%s: no such service: %s", ns.key, svc)
			}
			*ns.to = container.NamespaceMode{Container: ContainerName(p.Name, svc, other.ContainerName, 1)}
		}
	}
	if hc := s.HealthCheck; hc != nil {
		if hc.Disable {
			o.NoHealthcheck = true
		} else {
			test, err := container.ParseHealthTest(hc.Test)
			if err != nil {
				return o, bad("%v", err)
			}
			h := &record.Healthcheck{Test: test}
			for _, d := range []struct {
				from *types.Duration
				to   *time.Duration
			}{{hc.Interval, &h.Interval}, {hc.Timeout, &h.Timeout}, {hc.StartPeriod, &h.StartPeriod}, {hc.StartInterval, &h.StartInterval}} {
				if d.from != nil {
					*d.to = time.Duration(*d.from)
				}
			}
			if hc.Retries != nil {
				h.Retries = int(*hc.Retries)
			}
			o.Healthcheck = h
		}
	}
	if err := logOptions(s, &o); err != nil {
		return o, bad("%v", err)
	}
	for _, name := range slices.Sorted(maps.Keys(s.ExtraHosts)) {
		for _, ip := range s.ExtraHosts[name] {
			h, err := container.HostEntry(name, ip)
			if err != nil {
				return o, bad("%v", err)
			}
			o.ExtraHosts = append(o.ExtraHosts, h)
		}
	}
	if err := networkOptions(p, s, &o); err != nil {
		return o, err
	}
	if o.HostNetwork && len(s.Ports) > 0 {
		// Docker's daemon says so too, and drops them
		warn(fmt.Sprintf("service %q: published ports are discarded when using host network mode", s.Name))
	}
	for _, port := range s.Ports {
		ms, err := portMappings(port)
		if err != nil {
			return o, bad("%v", err)
		}
		o.Ports = append(o.Ports, ms...)
	}
	for _, l := range s.Links {
		svc, alias, _ := strings.Cut(l, ":")
		target := svc
		if other, err := p.GetService(svc); err == nil {
			target = ContainerName(p.Name, svc, other.ContainerName, 1)
		}
		o.Links = append(o.Links, container.Link{Name: target, Alias: cmp.Or(alias, svc)})
	}
	// external_links name containers outside the project: NAME[:ALIAS]
	for _, l := range s.ExternalLinks {
		link, err := container.ParseLink(l)
		if err != nil {
			return o, bad("%v", err)
		}
		o.Links = append(o.Links, link)
	}
	if o.Mounts, err = mounts(p, s, warn); err != nil {
		return o, err
	}
	// volumes_from: [service:]NAME[:MODE] or container:NAME[:MODE]
	for _, vf := range s.VolumesFrom {
		ref := strings.TrimPrefix(vf, types.ServicePrefix)
		name, isContainer := strings.CutPrefix(vf, types.ContainerPrefix)
		if isContainer {
			ref = name
		}
		ref, mode, _ := strings.Cut(ref, ":")
		if !isContainer {
			other, err := p.GetService(ref)
			if err != nil {
				return o, bad("volumes_from: no such service: %s", ref)
			}
			ref = ContainerName(p.Name, ref, other.ContainerName, 1)
		}
		o.VolumesFrom = append(o.VolumesFrom, container.VolumeFrom{Container: ref, Mode: mode})
	}
	if err := o.Validate(); err != nil {
		return o, bad("%v", err)
	}
	return o, nil
}

// portMappings are a ports: entry as container create takes them: the
// container port on the published one (a port or a range to take one
// of), or on a free one.
func portMappings(port types.ServicePortConfig) ([]netns.PortMapping, error) {
	m := netns.PortMapping{Port: uint16(port.Target), Proto: cmp.Or(port.Protocol, "tcp")}
	if port.Target > math.MaxUint16 {
		return nil, fmt.Errorf("invalid published port: container port %d is not a port", port.Target)
	}
	if port.HostIP != "" {
		ip, err := netip.ParseAddr(strings.Trim(port.HostIP, "[]"))
		if err != nil {
			return nil, fmt.Errorf("invalid published port: %q is not an IP address", port.HostIP)
		}
		if !ip.IsUnspecified() {
			m.HostIP = ip
		}
	}
	if port.Published != "" {
		lo, hi, isRange := strings.Cut(port.Published, "-")
		l, err1 := strconv.ParseUint(lo, 10, 16)
		h, err2 := l, error(nil)
		if isRange {
			h, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || h < l {
			return nil, fmt.Errorf("invalid published port: host port %q is not a port or range", port.Published)
		}
		m.HostPort = uint16(l)
		if h > l {
			m.HostPortEnd = uint16(h)
		}
	}
	return []netns.PortMapping{m}, nil
}

// restartPolicy is restart:, or deploy.restart_policy in Docker's terms.
func restartPolicy(s types.ServiceConfig) (record.RestartPolicy, error) {
	if s.Deploy == nil || s.Deploy.RestartPolicy == nil {
		return container.ParseRestart(s.Restart)
	}
	rp := s.Deploy.RestartPolicy
	switch rp.Condition {
	case "none":
		return record.RestartPolicy{Name: "no"}, nil
	case "on-failure":
		p := record.RestartPolicy{Name: "on-failure"}
		if rp.MaxAttempts != nil {
			p.MaximumRetryCount = int(*rp.MaxAttempts)
		}
		return p, nil
	}
	return record.RestartPolicy{Name: "always"}, nil
}

// Image makes a service's image present: as its pull_policy says, or as
// policy does when given ("always", "missing", "never"). A platform other
// than this machine's is refused first: berth runs images natively, with no
// emulation, so another platform's image could not run here.
//
// A service with build: is built, not pulled, when its image is to be
// built (see obtain): Image takes it only as the machine has it, and its
// name (<project>-<service>) is no registry's, so it is never pulled.
func (e *Engine) Image(ctx context.Context, p *project.Project, s types.ServiceConfig, policy string, progress api.Progress) error {
	if err := hostPlatform(s); err != nil {
		return err
	}
	ref := p.ImageName(s)
	if s.Build != nil && (s.Image == "" || s.PullPolicy == types.PullPolicyBuild) {
		if e.images.ID(ref) == "" {
			return errclass.New(ErrNotFound, "service %q: image %s is to be built (build:): berth build %s builds it", s.Name, ref, s.Name)
		}
		return nil
	}
	if policy == "" {
		var err error
		if policy, err = e.pullNow(ref, s); err != nil {
			return err
		}
	}
	return e.images.Ensure(ctx, ref, policy, progress)
}

// hostPlatform refuses a service whose platform: (os/arch[/variant], or a
// bare arch, as containerd reads them) is not this machine's.
func hostPlatform(s types.ServiceConfig) error {
	if s.Platform == "" {
		return nil
	}
	parts := strings.Split(strings.ToLower(s.Platform), "/")
	if len(parts) == 1 {
		parts = []string{"linux", parts[0]}
	}
	arch := map[string]string{"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64"}
	if parts[0] == "linux" && cmp.Or(arch[parts[1]], parts[1]) == goruntime.GOARCH {
		return nil
	}
	return errclass.New(ErrInvalid, "platform %q is not this machine's (linux/%s): berth runs images natively, without emulation", s.Platform, goruntime.GOARCH)
}

// pullNow is what the service's pull_policy asks of its image now:
// always, missing or never. The refresh policies (daily, weekly,
// every_<duration>, refresh with pull_refresh_after) pull when the local
// copy was pulled (or loaded, or tagged) longer ago than that, as compose
// weighs an image's last tag time.
func (e *Engine) pullNow(ref string, s types.ServiceConfig) (string, error) {
	policy, every, err := s.GetPullPolicy()
	if err != nil {
		return "", errclass.New(ErrInvalid, "service %q: %v", s.Name, err)
	}
	if policy != types.PullPolicyRefresh {
		return pullPolicy(policy), nil
	}
	if every == 0 && s.PullRefreshAfter != "" {
		if every, err = time.ParseDuration(s.PullRefreshAfter); err != nil {
			return "", errclass.New(ErrInvalid, "service %q: pull_refresh_after %q: %v", s.Name, s.PullRefreshAfter, err)
		}
	}
	if tagged := e.images.Tagged(ref); !tagged.IsZero() && time.Since(tagged) < every {
		return "missing", nil
	}
	return "always", nil
}

func pullPolicy(p string) string {
	switch p {
	case types.PullPolicyAlways, types.PullPolicyNever:
		return p
	}
	return "missing"
}

// dependsOnLabel is compose's com.docker.compose.depends_on:
// service:condition:restart, comma-separated.
func dependsOnLabel(s types.ServiceConfig) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(s.DependsOn)) {
		d := s.DependsOn[name]
		parts = append(parts, fmt.Sprintf("%s:%s:%t", name, d.Condition, d.Restart))
	}
	return strings.Join(parts, ",")
}

// resources are the service's limits: the short keys, then deploy's.
func resources(s types.ServiceConfig) runtime.Resources {
	r := runtime.Resources{Memory: int64(s.MemLimit), MemorySwap: int64(s.MemSwapLimit), MemoryReservation: int64(s.MemReservation),
		CPUShares: s.CPUShares, CpusetCpus: s.CPUSet, PidsLimit: s.PidsLimit, CPUQuota: s.CPUQuota, CPUPeriod: s.CPUPeriod}
	cpus := float64(s.CPUS)
	if s.Deploy != nil {
		if l := s.Deploy.Resources.Limits; l != nil {
			if l.MemoryBytes != 0 {
				r.Memory = int64(l.MemoryBytes)
			}
			if l.NanoCPUs != 0 {
				cpus = float64(l.NanoCPUs)
			}
			if l.Pids != 0 {
				r.PidsLimit = l.Pids
			}
		}
		if rv := s.Deploy.Resources.Reservations; rv != nil && rv.MemoryBytes != 0 {
			r.MemoryReservation = int64(rv.MemoryBytes)
		}
	}
	// as docker compose passes it: Check refuses what is out of range
	r.NanoCPUs = int64(math.Round(cpus * 1e9))
	if s.MemSwappiness != 0 { // compose's: 0 is unset
		v := int64(s.MemSwappiness)
		r.MemorySwappiness = &v
	}
	r.OOMKillDisable = s.OomKillDisable
	r.CPURealtimePeriod, r.CPURealtimeRuntime = s.CPURTPeriod, s.CPURTRuntime
	if b := s.BlkioConfig; b != nil {
		r.BlkioWeight = b.Weight
		for _, d := range b.WeightDevice {
			r.BlkioWeightDevices = append(r.BlkioWeightDevices, runtime.WeightDevice{Path: d.Path, Weight: d.Weight})
		}
		t := &r.BlkioThrottle
		for _, l := range []struct {
			in  []types.ThrottleDevice
			out *[]runtime.ThrottleDevice
		}{{b.DeviceReadBps, &t.ReadBps}, {b.DeviceWriteBps, &t.WriteBps}, {b.DeviceReadIOps, &t.ReadIOps}, {b.DeviceWriteIOps, &t.WriteIOps}} {
			for _, d := range l.in {
				*l.out = append(*l.out, runtime.ThrottleDevice{Path: d.Path, Rate: uint64(d.Rate)})
			}
		}
	}
	if s.OomScoreAdj != 0 {
		v := int(s.OomScoreAdj)
		r.OOMScoreAdj = &v
	}
	return r
}

// envList is an environment as a process gets it, KEY=VALUE by key;
// a key without a value (unset in compose's environment) is left out.
func envList(env types.MappingWithEquals) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if v := env[k]; v != nil {
			out = append(out, k+"="+*v)
		}
	}
	return out
}

// logOptions reads the json-file options berth's log honours, with the
// parser of `container create`'s --log-opt.
func logOptions(s types.ServiceConfig, o *container.CreateOptions) error {
	if s.Logging == nil {
		return nil
	}
	if d := s.Logging.Driver; d != "" && d != "json-file" && d != "local" {
		return fmt.Errorf("logging driver %q is not supported: berth writes json-file logs", d)
	}
	for _, k := range []string{"max-size", "max-file"} {
		if v, ok := s.Logging.Options[k]; ok && v != "" {
			if err := o.LogOpt(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// networkOptions places the container: network_mode, or the service's
// networks in compose's order (priority, then name), each with the
// service's name and its aliases as DNS names, as compose does.
func networkOptions(p *project.Project, s types.ServiceConfig, o *container.CreateOptions) error {
	switch mode := s.NetworkMode; {
	case mode == "host":
		o.HostNetwork = true
		return nil
	case mode == "none":
		o.NoNetwork = true
		return nil
	case strings.HasPrefix(mode, "service:"):
		svc := strings.TrimPrefix(mode, "service:")
		other, err := p.GetService(svc)
		if err != nil {
			return errclass.New(ErrInvalid, "service %q: network_mode: no such service: %s", s.Name, svc)
		}
		o.NetworkContainer = ContainerName(p.Name, svc, other.ContainerName, 1)
		return nil
	case strings.HasPrefix(mode, "container:"):
		o.NetworkContainer = strings.TrimPrefix(mode, "container:")
		return nil
	case mode != "" && mode != "bridge" && mode != "default":
		o.Networks = []string{mode}
		return nil
	}
	o.NetworkAliases = map[string][]string{}
	o.MacAddress = s.MacAddress
	for _, key := range s.NetworksByPriority() {
		n, ok := p.Networks[key]
		if !ok {
			return errclass.New(ErrInvalid, "service %q refers to undefined network %s", s.Name, key)
		}
		o.Networks = append(o.Networks, n.Name)
		aliases := []string{s.Name}
		if cfg := s.Networks[key]; cfg != nil {
			if cfg.UseServiceNameAlias != nil && !*cfg.UseServiceNameAlias {
				aliases = nil // the service is not known by its name there
			}
			aliases = append(aliases, cfg.Aliases...)
			es := record.EndpointSettings{MacAddress: cfg.MacAddress, InterfaceName: cfg.InterfaceName, GatewayPriority: cfg.GatewayPriority}
			if cfg.Ipv4Address != "" {
				ip, err := netip.ParseAddr(cfg.Ipv4Address)
				if err != nil || !ip.Is4() {
					return errclass.New(ErrInvalid, "service %q: invalid ipv4_address %q on network %s", s.Name, cfg.Ipv4Address, key)
				}
				es.IPv4Address = ip
			}
			if es != (record.EndpointSettings{}) {
				if o.Endpoints == nil {
					o.Endpoints = map[string]record.EndpointSettings{}
				}
				o.Endpoints[n.Name] = es
			}
		}
		o.NetworkAliases[n.Name] = aliases
	}
	return nil
}

// mounts are the service's volumes as mount requests. A named volume is
// the project's (<project>_<name>, or its external name); an anonymous one
// has no source here: a replica's is its predecessor's, or a new one.
func mounts(p *project.Project, s types.ServiceConfig, warn func(string)) ([]volumes.Spec, error) {
	var out []volumes.Spec
	for _, v := range s.Volumes {
		if !path.IsAbs(v.Target) {
			// "v:/data" is a Windows drive to compose-go, not volume v
			return nil, errclass.New(ErrInvalid, "service %q: volume target %q must be an absolute path", s.Name, v.Target)
		}
		sp := volumes.Spec{Type: v.Type, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeVolume:
			// an anonymous one (no source) is named per replica
			if v.Source != "" {
				cfg, ok := p.Volumes[v.Source]
				if !ok {
					return nil, errclass.New(ErrInvalid, "service %q refers to undefined volume %s", s.Name, v.Source)
				}
				sp.Source = cfg.Name
			}
			if v.Volume != nil {
				sp.NoCopy, sp.Subpath = v.Volume.NoCopy, v.Volume.Subpath
			}
		case types.VolumeTypeBind:
			sp.CreateHostPath = true
			if v.Bind != nil {
				sp.Propagation = v.Bind.Propagation
				sp.CreateHostPath = bool(v.Bind.CreateHostPath)
				if v.Bind.SELinux != "" {
					warn(fmt.Sprintf("service %q: volume %s: SELinux relabelling (%s) is ignored: this host has no SELinux", s.Name, v.Target, v.Bind.SELinux))
				}
			}
		case types.VolumeTypeTmpfs:
			if v.Tmpfs != nil {
				sp.TmpfsSize, sp.TmpfsMode = int64(v.Tmpfs.Size), os.FileMode(v.Tmpfs.Mode)
			}
		default:
			return nil, errclass.New(ErrInvalid, "service %q: volume type %q is not supported", s.Name, v.Type)
		}
		out = append(out, sp)
	}
	return out, nil
}
