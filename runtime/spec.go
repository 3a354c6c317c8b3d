package runtime

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// dockerCaps are the capabilities Docker grants a container by default.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Docker masks these paths (bind-mounting /dev/null or an empty tmpfs over
// them) because they leak host information or reach host hardware.
var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
	"/sys/devices/virtual/powercap",
}

// ...and makes these read-only: writing them would reconfigure the host kernel.
var readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

// capabilities applies CapAdd and CapDrop to Docker's defaults, in the order
// Docker does: ALL in add grants all, ALL in drop clears the defaults first.
func capabilities(add, drop []string, privileged bool) ([]string, error) {
	norm := func(c string) string {
		c = strings.ToUpper(c)
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		return c
	}
	if privileged || slices.ContainsFunc(add, func(c string) bool { return norm(c) == "ALL" }) {
		return hostCaps(), nil
	}
	caps := slices.Clone(dockerCaps)
	for _, d := range drop {
		d = norm(d)
		if d == "ALL" {
			caps = nil
			continue
		}
		if !slices.Contains(allCaps, d) {
			return nil, fmt.Errorf("unknown capability to drop: %q", d)
		}
		caps = slices.DeleteFunc(caps, func(c string) bool { return c == d })
	}
	for _, a := range add {
		a = norm(a)
		if !slices.Contains(allCaps, a) {
			return nil, fmt.Errorf("unknown capability to add: %q", a)
		}
		if !slices.Contains(caps, a) {
			caps = append(caps, a)
		}
	}
	return caps, nil
}

// allCaps are the capabilities this kernel era knows.
var allCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
	"CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// hostCaps are the capabilities "all" can mean here: those in berth's own
// bounding set. A host (or a container berth itself runs in) may lack
// some, CAP_SYS_RESOURCE say, and the kernel refuses to give a process a
// capability outside its bounding set, so asking for allCaps there would
// fail every privileged container; Docker trims "all" the same way.
var hostCaps = sync.OnceValue(func() []string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return slices.Clone(allCaps)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			bits, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				break
			}
			var out []string
			for i, c := range allCaps { // allCaps is in the kernel's order
				if bits&(1<<i) != 0 {
					out = append(out, c)
				}
			}
			return out
		}
	}
	return slices.Clone(allCaps)
})

// ociSpec is the OCI runtime spec for s with rootfs mounted at root.
func ociSpec(s Spec, root string) (*specs.Spec, error) {
	caps, err := capabilities(s.CapAdd, s.CapDrop, s.Privileged)
	if err != nil {
		return nil, err
	}
	p := s.Process
	spec := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: root, Readonly: s.Rootfs.ReadOnly},
		Hostname: s.Hostname, Domainname: s.Domainname,
		Process: &specs.Process{
			Terminal: p.Terminal,
			User:     specs.User{UID: p.UID, GID: p.GID, AdditionalGids: p.AdditionalGIDs},
			Args:     p.Args, Env: p.Env, Cwd: cwdOr(p.Cwd),
			Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			NoNewPrivileges: p.NoNewPrivileges,
			Rlimits:         p.Rlimits,
			OOMScoreAdj:     s.Resources.OOMScoreAdj,
		},
		Mounts: append(defaultMounts(s.ShmSize, s.Shm, s.Privileged), parentsFirst(s.Mounts)...),
		Linux: &specs.Linux{
			CgroupsPath: s.Cgroup(),
			Sysctl:      s.Sysctls,
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: s.NetNS}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
			Resources: resourcesOCI(s.Resources, s.Privileged),
		},
	}
	if s.HostNetwork {
		spec.Linux.Namespaces = slices.DeleteFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.NetworkNamespace })
	}
	spec.Annotations = s.Annotations
	if spec.Linux.Resources.BlockIO, err = s.Resources.BlockIO(); err != nil {
		return nil, err
	}
	spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices, s.DeviceRules...)
	for typ, from := range map[specs.LinuxNamespaceType]string{specs.PIDNamespace: s.PIDNS, specs.IPCNamespace: s.IPCNS, specs.UTSNamespace: s.UTSNS, specs.CgroupNamespace: s.CgroupNS} {
		i := slices.IndexFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == typ })
		switch from {
		case "":
		case Host:
			spec.Linux.Namespaces = slices.Delete(spec.Linux.Namespaces, i, i+1)
		default:
			spec.Linux.Namespaces[i].Path = from
		}
	}
	if s.UTSNS != "" {
		// a hostname can only be set in a UTS namespace of its own
		spec.Hostname, spec.Domainname = "", ""
	}
	if !s.Privileged {
		spec.Linux.MaskedPaths = maskedPaths
		spec.Linux.ReadonlyPaths = readonlyPaths
		if !s.Unconfined && SeccompSupported {
			if spec.Linux.Seccomp, err = seccompFilter(spec, s.SeccompProfile); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range s.Devices {
		dev, rule, err := device(d)
		if err != nil {
			return nil, err
		}
		spec.Linux.Devices = append(spec.Linux.Devices, dev)
		spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices, rule)
	}
	if s.Privileged {
		// every device of the host, as Docker gives a privileged container
		// (its device rule already allows them all): loop devices, the
		// kernel log, disks, for what runs systemd or a container engine
		// inside; a --device of the same path keeps its own
		for _, dev := range hostDevices() {
			if !slices.ContainsFunc(spec.Linux.Devices, func(d specs.LinuxDevice) bool { return d.Path == dev.Path }) {
				spec.Linux.Devices = append(spec.Linux.Devices, dev)
			}
		}
	}
	return spec, nil
}

// hostDevices are the device nodes under the host's /dev, as runc's
// HostDevices finds them: not those of the file systems every container
// gets its own of (pts, shm, mqueue), nor the console, which is the
// container's terminal when it has one.
func hostDevices() []specs.LinuxDevice {
	var out []specs.LinuxDevice
	filepath.WalkDir("/dev", func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return nil // a node that went away while walked
		}
		if e.IsDir() {
			switch e.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				return filepath.SkipDir
			}
			return nil
		}
		if path == "/dev/console" || e.Type()&os.ModeDevice == 0 {
			return nil
		}
		if dev, _, err := device(Device{Host: path}); err == nil {
			out = append(out, dev)
		}
		return nil
	})
	return out
}

func cwdOr(cwd string) string {
	if cwd == "" {
		return "/"
	}
	return cwd
}

func resourcesOCI(r Resources, privileged bool) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	if privileged {
		allow := true
		out.Devices = []specs.LinuxDeviceCgroup{{Allow: allow, Access: "rwm"}}
	} else {
		out.Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	}
	if r.Memory != 0 || r.MemorySwap != 0 || r.MemoryReservation != 0 {
		m := &specs.LinuxMemory{}
		if r.Memory != 0 {
			m.Limit = &r.Memory
		}
		if r.MemorySwap != 0 {
			m.Swap = &r.MemorySwap
		}
		if r.MemoryReservation != 0 {
			m.Reservation = &r.MemoryReservation
		}
		out.Memory = m
	}
	if r.MemorySwappiness != nil || r.OOMKillDisable {
		if out.Memory == nil {
			out.Memory = &specs.LinuxMemory{}
		}
		if r.MemorySwappiness != nil {
			v := uint64(*r.MemorySwappiness)
			out.Memory.Swappiness = &v
		}
		if r.OOMKillDisable {
			disable := true
			out.Memory.DisableOOMKiller = &disable
		}
	}
	if r.CPUQuota != 0 || r.CPUPeriod != 0 || r.CPUShares != 0 || r.CpusetCpus != "" || r.CPURealtimePeriod != 0 || r.CPURealtimeRuntime != 0 {
		c := &specs.LinuxCPU{Cpus: r.CpusetCpus}
		if r.CPURealtimePeriod != 0 {
			period := uint64(r.CPURealtimePeriod)
			c.RealtimePeriod = &period
		}
		if r.CPURealtimeRuntime != 0 {
			c.RealtimeRuntime = &r.CPURealtimeRuntime
		}
		if r.CPUQuota != 0 {
			c.Quota = &r.CPUQuota
		}
		if r.CPUQuota != 0 || r.CPUPeriod != 0 {
			period := uint64(cmp.Or(r.CPUPeriod, 100000))
			c.Period = &period
		}
		if r.CPUShares != 0 {
			shares := uint64(r.CPUShares)
			c.Shares = &shares
		}
		out.CPU = c
	}
	if r.PidsLimit != 0 {
		limit := r.PidsLimit
		out.Pids = &specs.LinuxPids{Limit: &limit}
	}
	return out
}

// device describes a host device node for the container and the cgroup
// rule that lets it be used.
func device(d Device) (specs.LinuxDevice, specs.LinuxDeviceCgroup, error) {
	var st unix.Stat_t
	if err := unix.Stat(d.Host, &st); err != nil {
		return specs.LinuxDevice{}, specs.LinuxDeviceCgroup{}, fmt.Errorf("device %s: %w", d.Host, err)
	}
	var kind string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		kind = "c"
	case unix.S_IFBLK:
		kind = "b"
	default:
		return specs.LinuxDevice{}, specs.LinuxDeviceCgroup{}, fmt.Errorf("%s is not a device node", d.Host)
	}
	major, minor := int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	mode := os.FileMode(st.Mode & 0o777)
	uid, gid := st.Uid, st.Gid
	perms := d.Permissions
	if perms == "" {
		perms = "rwm"
	}
	dst := d.Container
	if dst == "" {
		dst = d.Host
	}
	return specs.LinuxDevice{Path: dst, Type: kind, Major: major, Minor: minor, FileMode: &mode, UID: &uid, GID: &gid},
		specs.LinuxDeviceCgroup{Allow: true, Type: kind, Major: &major, Minor: &minor, Access: perms}, nil
}

// parentsFirst orders mounts so that a directory is mounted before anything
// inside it (a volume at /etc before the container's /etc/hosts), keeping
// the given order among mounts of the same depth.
func parentsFirst(mounts []specs.Mount) []specs.Mount {
	out := slices.Clone(mounts)
	slices.SortStableFunc(out, func(a, b specs.Mount) int {
		return strings.Count(filepath.Clean(a.Destination), "/") - strings.Count(filepath.Clean(b.Destination), "/")
	})
	return out
}

// shmTmpfs is a /dev/shm tmpfs at dest, in the container or on the host
// (a shareable one): shmSize bytes, Docker's 64 MB when 0.
func shmTmpfs(dest string, shmSize int64) specs.Mount {
	if shmSize <= 0 {
		shmSize = 64 << 20
	}
	return specs.Mount{Destination: dest, Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", fmt.Sprintf("size=%d", shmSize)}}
}

// defaultMounts are the file systems every container gets, as in Docker.
// privileged makes /sys and the cgroup file system writable, as Docker
// does: systemd, or a container engine, inside the container makes
// cgroups under its own (on v2 a privileged container may; the cgroup
// namespace still roots /sys/fs/cgroup at the container's cgroup).
func defaultMounts(shmSize int64, shm string, privileged bool) []specs.Mount {
	ro := []string{"ro"}
	if privileged {
		ro = nil
	}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: append([]string{"nosuid", "noexec", "nodev"}, ro...)},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: append(slices.Clone(ro), "nosuid", "noexec", "nodev")},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
	}
	switch shm {
	case "":
		return append(mounts, shmTmpfs("/dev/shm", shmSize))
	case NoShm:
		return mounts
	}
	return append(mounts, specs.Mount{Destination: "/dev/shm", Type: "bind", Source: shm, Options: []string{"rbind", "nosuid", "noexec", "nodev"}})
}

// ParseDeviceRule reads a device cgroup rule as Docker writes it
// (--device-cgroup-rule, compose's device_cgroup_rules): TYPE MAJOR:MINOR
// ACCESS, where TYPE is a (all), c or b, MAJOR and MINOR numbers or *, and
// ACCESS some of r, w and m. "c 1:3 mr" lets the container read and mknod
// /dev/null.
func ParseDeviceRule(rule string) (specs.LinuxDeviceCgroup, error) {
	bad := fmt.Errorf("invalid device cgroup rule %q: want TYPE MAJOR:MINOR ACCESS, as in 'c 1:3 mr': %w", rule, ErrInvalid)
	f := strings.Fields(rule)
	if len(f) != 3 || (f[0] != "a" && f[0] != "c" && f[0] != "b") || f[2] == "" || strings.Trim(f[2], "rwm") != "" {
		return specs.LinuxDeviceCgroup{}, bad
	}
	num := func(s string) (*int64, error) {
		if s == "*" {
			return nil, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, bad
		}
		return &n, nil
	}
	majS, minS, ok := strings.Cut(f[1], ":")
	if !ok {
		return specs.LinuxDeviceCgroup{}, bad
	}
	major, err := num(majS)
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	minor, err := num(minS)
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	return specs.LinuxDeviceCgroup{Allow: true, Type: f[0], Major: major, Minor: minor, Access: f[2]}, nil
}

// FormatDeviceRule writes a device cgroup rule as ParseDeviceRule reads it.
func FormatDeviceRule(d specs.LinuxDeviceCgroup) string {
	num := func(p *int64) string {
		if p == nil {
			return "*"
		}
		return strconv.FormatInt(*p, 10)
	}
	return d.Type + " " + num(d.Major) + ":" + num(d.Minor) + " " + d.Access
}
