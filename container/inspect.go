package container

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
)

// Inspected is `container inspect`'s document, in Docker's shape.
type Inspected struct {
	ID      string `json:"Id"`
	Created string
	Path    string
	Args    []string
	State   struct {
		Status                                 record.Status
		Running, Paused, Restarting, OOMKilled bool
		Dead                                   bool
		Pid, ExitCode                          int
		Error                                  string
		StartedAt, FinishedAt                  string
		Health                                 *record.Health `json:",omitempty"`
	}
	Image          string
	ResolvConfPath string
	HostnamePath   string
	HostsPath      string
	LogPath        string
	Name           string
	RestartCount   int
	Driver         string
	Platform       string
	GraphDriver    struct {
		Name string
		Data map[string]string
	}
	HostConfig struct {
		AutoRemove           bool
		RestartPolicy        record.RestartPolicy
		Privileged           bool
		ReadonlyRootfs       bool
		CapAdd, CapDrop      []string
		PortBindings         map[string][]PortBinding
		PublishAllPorts      bool
		NetworkMode          string
		PidMode              string
		IpcMode              string
		UTSMode              string
		CgroupParent         string
		CgroupnsMode         string
		Annotations          map[string]string `json:",omitempty"`
		DeviceCgroupRules    []string
		Links                []string
		Memory               int64
		MemorySwap           int64
		MemoryReservation    int64
		MemorySwappiness     *int64
		OomKillDisable       bool
		CpuPeriod            int64
		CpuQuota             int64
		CpuRealtimePeriod    int64
		CpuRealtimeRuntime   int64
		BlkioWeight          uint16
		BlkioWeightDevice    []runtime.WeightDevice
		BlkioDeviceReadBps   []runtime.ThrottleDevice
		BlkioDeviceWriteBps  []runtime.ThrottleDevice
		BlkioDeviceReadIOps  []runtime.ThrottleDevice
		BlkioDeviceWriteIOps []runtime.ThrottleDevice
		NanoCpus             int64
		CpuShares            int64
		CpusetCpus           string
		PidsLimit            int64
		ShmSize              int64
		Init                 bool
		Dns                  []string
		DnsSearch            []string
		DnsOptions           []string
		ExtraHosts           []string
	}
	Config struct {
		Hostname, Domainname, User, WorkingDir, StopSignal, Image string
		Env, Cmd, Entrypoint                                      []string
		Labels                                                    map[string]string
		Healthcheck                                               *record.Healthcheck `json:",omitempty"`
		ExposedPorts                                              map[string]struct{} `json:",omitempty"`
	}
	Mounts          []MountPoint
	NetworkSettings struct {
		// IPAddress, Gateway and MacAddress are the default network's, as
		// in Docker; empty on others.
		IPAddress, Gateway, MacAddress string
		Networks                       map[string]NetworkPoint
		// Ports are the running bindings by container port ("80/tcp").
		Ports map[string][]PortBinding
	}
}

// PortBinding is a host address and port, as inspect shows them.
type PortBinding struct{ HostIp, HostPort string } // Docker's field names

// NetworkPoint is one entry of inspect's NetworkSettings.Networks, in
// Docker's shape; the addresses are empty while the container is stopped.
type NetworkPoint struct {
	Aliases                                   []string
	NetworkID, IPAddress, Gateway, MacAddress string
	IPPrefixLen                               int
	// DNSNames are the names the embedded resolver answers with this
	// endpoint's address.
	DNSNames []string
}

// MountPoint is one entry of inspect's Mounts, in Docker's shape.
type MountPoint struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
}

// Inspect describes a container as Docker's inspect does.
func Inspect(e record.Entry) Inspected {
	var out Inspected
	r, st := e.Record, e.State
	out.ID, out.Created, out.Path, out.Args = r.ID, r.Created.Format(time.RFC3339Nano), r.Path, r.Args
	if out.Args == nil {
		out.Args = []string{}
	}
	out.State.Status = st.Status
	out.State.Running = st.Running()
	out.State.Paused = st.Status == record.Paused
	out.State.Restarting = st.Status == record.Restarting
	out.State.OOMKilled, out.State.Dead = st.OOMKilled, st.Status == record.Dead
	out.State.Pid, out.State.ExitCode, out.State.Error = st.Pid, st.ExitCode, st.Error
	out.State.StartedAt = zeroTime(st.StartedAt)
	out.State.Health = st.Health
	out.State.FinishedAt = zeroTime(st.FinishedAt)
	out.Image, out.Name, out.RestartCount = r.ImageID, "/"+r.Name, st.RestartCount
	out.HostConfig.AutoRemove, out.HostConfig.RestartPolicy = r.Host.AutoRemove, r.Host.RestartPolicy
	out.HostConfig.Privileged, out.HostConfig.ReadonlyRootfs = r.Spec.Privileged, r.Spec.Rootfs.ReadOnly
	out.HostConfig.CapAdd, out.HostConfig.CapDrop = r.Spec.CapAdd, r.Spec.CapDrop
	c := r.Config
	out.Config.Hostname, out.Config.Domainname, out.Config.User, out.Config.WorkingDir, out.Config.StopSignal = c.Hostname, c.Domainname, c.User, c.WorkingDir, c.StopSignal
	out.Config.Image, out.Config.Env, out.Config.Cmd, out.Config.Entrypoint, out.Config.Labels = r.Image, c.Env, c.Cmd, c.Entrypoint, c.Labels
	out.Config.Healthcheck = r.Health
	for _, p := range c.ExposedPorts {
		if out.Config.ExposedPorts == nil {
			out.Config.ExposedPorts = map[string]struct{}{}
		}
		out.Config.ExposedPorts[p] = struct{}{}
	}
	out.Mounts = mountPoints(r)
	dir := filepath.Dir(r.Spec.Rootfs.Upper) // the container's own directory
	out.ResolvConfPath, out.HostnamePath, out.HostsPath = filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "hostname"), filepath.Join(dir, "hosts")
	out.LogPath = filepath.Join(dir, r.ID+"-json.log")
	out.Driver, out.Platform = "overlay2", "linux"
	out.GraphDriver.Name = "overlay2"
	out.GraphDriver.Data = map[string]string{"LowerDir": strings.Join(r.Spec.Rootfs.Lowers, ":"), "UpperDir": r.Spec.Rootfs.Upper,
		"WorkDir": r.Spec.Rootfs.Work, "MergedDir": filepath.Join(dir, "rootfs")}
	res := r.Spec.Resources
	out.HostConfig.Memory, out.HostConfig.MemorySwap, out.HostConfig.CpuShares = res.Memory, res.MemorySwap, res.CPUShares
	out.HostConfig.MemoryReservation = res.MemoryReservation
	out.HostConfig.MemorySwappiness, out.HostConfig.OomKillDisable = res.MemorySwappiness, res.OOMKillDisable
	out.HostConfig.CpuPeriod, out.HostConfig.CpuQuota = res.CPUPeriod, res.CPUQuota
	out.HostConfig.PidMode, out.HostConfig.IpcMode, out.HostConfig.UTSMode = r.Host.PidMode, cmp.Or(r.Host.IpcMode, "private"), r.Host.UTSMode
	out.HostConfig.CgroupParent, out.HostConfig.CgroupnsMode = r.Spec.CgroupParent, cmp.Or(r.Spec.CgroupNS, "private")
	out.HostConfig.Annotations = r.Spec.Annotations
	out.HostConfig.CpuRealtimePeriod, out.HostConfig.CpuRealtimeRuntime = res.CPURealtimePeriod, res.CPURealtimeRuntime
	t := res.BlkioThrottle
	out.HostConfig.BlkioWeight, out.HostConfig.BlkioWeightDevice = res.BlkioWeight, res.BlkioWeightDevices
	out.HostConfig.BlkioDeviceReadBps, out.HostConfig.BlkioDeviceWriteBps = t.ReadBps, t.WriteBps
	out.HostConfig.BlkioDeviceReadIOps, out.HostConfig.BlkioDeviceWriteIOps = t.ReadIOps, t.WriteIOps
	for _, d := range r.Spec.DeviceRules {
		out.HostConfig.DeviceCgroupRules = append(out.HostConfig.DeviceCgroupRules, runtime.FormatDeviceRule(d))
	}
	out.HostConfig.CpusetCpus, out.HostConfig.PidsLimit, out.HostConfig.ShmSize = res.CpusetCpus, res.PidsLimit, r.Spec.ShmSize
	if res.CPUPeriod > 0 {
		out.HostConfig.NanoCpus = res.CPUQuota * 1e9 / res.CPUPeriod
	}
	out.HostConfig.Init = r.Host.Init
	out.HostConfig.Dns, out.HostConfig.DnsSearch, out.HostConfig.DnsOptions = r.Host.DNS, r.Host.DNSSearch, r.Host.DNSOptions
	out.HostConfig.ExtraHosts = r.Host.ExtraHosts
	if ep, ok := st.Networks[netns.DefaultNetwork]; ok {
		out.NetworkSettings.IPAddress, out.NetworkSettings.Gateway, out.NetworkSettings.MacAddress = ep.Address.Addr().String(), ep.Gateway.String(), ep.MAC
	}
	out.HostConfig.PublishAllPorts = r.Host.PublishAll
	out.HostConfig.NetworkMode = networkMode(r.Host)
	for _, l := range r.Host.Links {
		name, alias, _ := strings.Cut(l, ":")
		out.HostConfig.Links = append(out.HostConfig.Links, "/"+name+":/"+r.Name+"/"+alias) // Docker's form
	}
	out.HostConfig.PortBindings = map[string][]PortBinding{}
	for _, m := range r.Host.Ports {
		key := fmt.Sprintf("%d/%s", m.Port, m.Proto)
		b := PortBinding{}
		if m.HostIP.IsValid() {
			b.HostIp = m.HostIP.String()
		}
		if m.HostPort != 0 {
			b.HostPort = strconv.Itoa(int(m.HostPort))
			if m.HostPortEnd > m.HostPort {
				b.HostPort += fmt.Sprintf("-%d", m.HostPortEnd)
			}
		}
		out.HostConfig.PortBindings[key] = append(out.HostConfig.PortBindings[key], b)
	}
	out.NetworkSettings.Ports = map[string][]PortBinding{}
	for _, b := range st.Ports {
		key := fmt.Sprintf("%d/%s", b.Port, b.Proto)
		host, port, _ := strings.Cut(b.HostAddr(), ":")
		out.NetworkSettings.Ports[key] = append(out.NetworkSettings.Ports[key], PortBinding{HostIp: host, HostPort: port})
	}
	// an exposed port nothing publishes is there too, bound to nothing
	for _, p := range ListedPorts(record.Entry{Record: r, State: st}) {
		if key := fmt.Sprintf("%d/%s", p.PrivatePort, p.Type); p.IP == "" {
			out.NetworkSettings.Ports[key] = nil
		}
	}
	out.NetworkSettings.Networks = map[string]NetworkPoint{}
	for _, name := range r.Host.Networks {
		p := NetworkPoint{Aliases: r.Host.Aliases[name]}
		if ep, ok := st.Networks[name]; ok {
			p = NetworkPoint{Aliases: p.Aliases, NetworkID: ep.NetworkID, IPAddress: ep.Address.Addr().String(), IPPrefixLen: ep.Address.Bits(),
				Gateway: ep.Gateway.String(), MacAddress: ep.MAC, DNSNames: monitor.DNSNames(r, name)}
		}
		out.NetworkSettings.Networks[name] = p
	}
	if r.Host.HostNetwork {
		out.NetworkSettings.Networks["host"] = NetworkPoint{}
	}
	return out
}

// mountPoints lists the container's volumes, binds and tmpfs mounts as
// Docker's inspect does: not the files berth binds in itself.
func mountPoints(r record.Record) []MountPoint {
	out := []MountPoint{}
	for _, m := range r.Spec.Mounts {
		if m.Destination == "/etc/hosts" || m.Destination == "/etc/hostname" || m.Destination == "/etc/resolv.conf" || m.Destination == initMountPoint {
			continue
		}
		mp := MountPoint{Type: m.Type, Source: m.Source, Destination: m.Destination, RW: !slices.Contains(m.Options, "ro"), Propagation: ""}
		for _, o := range m.Options {
			if strings.HasSuffix(o, "private") || strings.HasSuffix(o, "shared") || strings.HasSuffix(o, "slave") {
				mp.Propagation = o
			}
		}
		if !mp.RW {
			mp.Mode = "ro"
		}
		for _, u := range r.Volumes {
			if u.Target == m.Destination {
				mp.Type, mp.Name, mp.Driver = "volume", u.Name, "local"
				mp.Mode = cmp.Or(mp.Mode, "z")
			}
		}
		if m.Type == "tmpfs" {
			mp.Source = ""
		}
		out = append(out, mp)
	}
	return out
}

// zeroTime is Docker's rendering of a time, its zero included.
func zeroTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.Format(time.RFC3339Nano)
}

// networkMode is Docker's HostConfig.NetworkMode: host, none,
// container:ID, or the first network's name.
func networkMode(h record.HostConfig) string {
	switch {
	case h.HostNetwork:
		return "host"
	case h.NetworkContainer != "":
		return "container:" + h.NetworkContainer
	case len(h.Networks) > 0:
		return h.Networks[0]
	}
	return "none"
}

// MountNames are what docker ps shows of a container's mounts: each
// volume's name, or a bind's source.
func MountNames(r record.Record) []string {
	var names []string
	for _, m := range mountPoints(r) {
		if n := cmp.Or(m.Name, m.Source); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// NetworkNames are the networks docker ps shows a container on: those it
// joins, or host or none.
func NetworkNames(r record.Record) []string {
	switch {
	case r.Host.HostNetwork:
		return []string{"host"}
	case len(r.Host.Networks) > 0:
		return r.Host.Networks
	case r.Host.NetworkContainer != "":
		return nil
	}
	return []string{"none"}
}
