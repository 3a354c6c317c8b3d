package runtime

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Spec says what a container is.
type Spec struct {
	// ID names the container in libcontainer's state and in its cgroup.
	ID string
	// Rootfs is the container's root filesystem.
	Rootfs Rootfs
	// Process is the container's first process.
	Process    Process
	Hostname   string
	Domainname string
	// CapAdd and CapDrop adjust Docker's default capabilities ("ALL" allowed,
	// with or without the CAP_ prefix).
	CapAdd, CapDrop []string
	// Privileged grants every capability and every device, and unmasks /proc
	// and /sys, as docker run --privileged does.
	Privileged bool
	// Resources are cgroup limits; zero values mean no limit.
	Resources Resources
	// Sysctls are namespaced kernel parameters.
	Sysctls map[string]string
	// Mounts are mounted after the defaults, in order.
	Mounts []specs.Mount
	// ShmSize is /dev/shm's size in bytes; 0 is Docker's 64 MB.
	ShmSize int64
	// Devices are host devices made available in the container.
	Devices []Device
	// Unconfined runs without a seccomp filter
	// (--security-opt seccomp=unconfined); Privileged does too.
	Unconfined bool
	// NetNS is the path of a network namespace made beforehand (see
	// netns.CreateNamespace) that the container joins, its networks
	// already attached; empty is a new namespace with loopback only.
	NetNS string `json:",omitempty"`
	// HostNetwork shares the host's network namespace: no namespace of
	// its own (--network host).
	HostNetwork bool `json:",omitempty"`
	// SeccompProfile is a seccomp profile in Docker's JSON format
	// (--security-opt seccomp=FILE); empty is Docker's default profile.
	SeccompProfile string `json:",omitempty"`
	// PIDNS, IPCNS and UTSNS say where the PID, IPC and UTS namespaces
	// come from (--pid, --ipc, --uts): "" a new one, Host the host's (no
	// namespace of its own), or the path of one to join
	// (/proc/PID/ns/pid of another container's init).
	PIDNS, IPCNS, UTSNS string `json:",omitempty"`
	// Shm is what /dev/shm is: "" a tmpfs of ShmSize in the container,
	// NoShm nothing (--ipc none), ShareableShm a tmpfs of ShmSize made on
	// the host at ShmDir(bundle) for others to bind too (--ipc
	// shareable), or a host directory bound there: the host's /dev/shm for
	// --ipc host, another container's ShmDir for --ipc container:NAME.
	// POSIX shared memory lives in /dev/shm, System V's in the IPC
	// namespace: sharing one without the other would share half.
	Shm string `json:",omitempty"`
	// CgroupParent is the cgroup under which the container's own is made
	// (--cgroup-parent); empty is /berth.
	CgroupParent string `json:",omitempty"`
	// CgroupNS is "" for a cgroup namespace of its own, Host for the
	// host's (--cgroupns host).
	CgroupNS string `json:",omitempty"`
	// DeviceRules add to the device cgroup's allow list
	// (--device-cgroup-rule).
	DeviceRules []specs.LinuxDeviceCgroup `json:",omitempty"`
	// Annotations are the OCI spec's (--annotation).
	Annotations map[string]string `json:",omitempty"`
}

// Host, as a namespace's source in a Spec, is the host's namespace.
const Host = "host"

// Values of a Spec's Shm: NoShm leaves /dev/shm out; ShareableShm makes
// it on the host, at ShmDir, where other containers can bind it.
const (
	NoShm        = "none"
	ShareableShm = "shareable"
)

// ShmDir is where a container created with ShareableShm has its /dev/shm
// on the host, from Create to Delete.
func ShmDir(bundle string) string { return filepath.Join(bundle, "shm") }

// Device is a host device node given to a container (--device).
type Device struct {
	Host, Container string
	// Permissions are some of r, w and m; empty is "rwm".
	Permissions string
}

// Rootfs is an overlay of read-only image layers (top first) under a
// writable upper directory; with ReadOnly the container cannot write to it.
type Rootfs struct {
	Lowers   []string
	Upper    string
	Work     string
	ReadOnly bool
}

// Process is a process to run in a container.
type Process struct {
	Args []string
	Env  []string
	Cwd  string
	// UID, GID and AdditionalGIDs are numeric: names are resolved from the
	// image's /etc/passwd and /etc/group before they get here.
	UID, GID        uint32
	AdditionalGIDs  []uint32
	Terminal        bool
	NoNewPrivileges bool
	Rlimits         []specs.POSIXRlimit
}

// Resources are cgroup limits.
type Resources struct {
	Memory            int64 // bytes
	MemorySwap        int64 // memory plus swap, bytes; -1 unlimited
	MemoryReservation int64
	// NanoCPUs is --cpus (compose's cpus) in billionths of a CPU: what a
	// user asks for, which Adapt turns into CPUQuota per a CPUPeriod of
	// 100 ms, so a record never holds it.
	NanoCPUs    int64 `json:",omitempty"`
	CPUQuota    int64 // microseconds per CPUPeriod
	CPUPeriod   int64
	CPUShares   int64
	CpusetCpus  string
	PidsLimit   int64 // 0 or negative: no limit
	OOMScoreAdj *int
	// MemorySwappiness (0-100; nil the kernel's) and OOMKillDisable are
	// cgroup v1 memory knobs: cgroup v2 has neither, and they are then
	// ignored, as by Docker.
	MemorySwappiness *int64 `json:",omitempty"`
	OOMKillDisable   bool   `json:",omitempty"`
	// CPURealtimePeriod and CPURealtimeRuntime (microseconds) give the
	// container real-time scheduling time (cgroup v1's cpu.rt_*).
	CPURealtimePeriod  int64 `json:",omitempty"`
	CPURealtimeRuntime int64 `json:",omitempty"`
	// BlkioWeight (10 to 1000) and BlkioWeightDevices weigh the
	// container's block I/O against others'; BlkioThrottle caps it per
	// device. Devices are named by their host paths (/dev/vda) and found
	// by their numbers when the container is made.
	BlkioWeight        uint16         `json:",omitempty"`
	BlkioWeightDevices []WeightDevice `json:",omitempty"`
	BlkioThrottle      Throttles      `json:",omitzero"`
}

// WeightDevice is a block I/O weight for one device (--blkio-weight-device).
type WeightDevice struct {
	Path   string
	Weight uint16
}

// ThrottleDevice is a cap on one device: bytes, or operations, per second.
type ThrottleDevice struct {
	Path string
	Rate uint64
}

// Throttles are --device-read-bps, --device-write-bps,
// --device-read-iops and --device-write-iops.
type Throttles struct {
	ReadBps, WriteBps, ReadIOps, WriteIOps []ThrottleDevice
}

// Check refuses resources Docker's daemon refuses, with its words: a value
// out of its range (a negative CPU count, a memory limit under 6 MB, a CFS
// period over a second, ...), settings that conflict, a block device that
// is not one. It is the one check of both `container create` flags and
// compose keys, so that neither runs a container with a limit the other
// refuses; Create checks the same, so a container is refused when it is
// made rather than started.
func (r Resources) Check() error {
	if err := r.checkRanges(goruntime.NumCPU()); err != nil {
		return fmt.Errorf("%w: %w", err, ErrInvalid)
	}
	_, err := r.blockIO()
	return err
}

// minMemory is Docker's smallest memory limit or reservation: less and
// the container's runtime itself cannot start.
const minMemory = 6 << 20

// checkRanges is Check for a host with ncpu CPUs.
func (r Resources) checkRanges(ncpu int) error {
	switch {
	case r.Memory != 0 && r.Memory < minMemory:
		return errors.New("minimum memory limit allowed is 6MB")
	case r.MemoryReservation != 0 && r.MemoryReservation < minMemory:
		return errors.New("minimum memory reservation allowed is 6MB")
	case r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation:
		return errors.New("minimum memory limit can not be less than memory reservation limit, see usage")
	case r.MemorySwap < -1:
		return fmt.Errorf("invalid value %d for memory swap: want -1 (unlimited) or a size", r.MemorySwap)
	case r.MemorySwappiness != nil && (*r.MemorySwappiness < 0 || *r.MemorySwappiness > 100):
		return fmt.Errorf("invalid value: %d, valid memory swappiness range is 0-100", *r.MemorySwappiness)
	case r.NanoCPUs != 0 && r.CPUPeriod != 0:
		return errors.New("conflicting options: Nano CPUs and CPU Period cannot both be set")
	case r.NanoCPUs != 0 && r.CPUQuota != 0:
		return errors.New("conflicting options: Nano CPUs and CPU Quota cannot both be set")
	case r.NanoCPUs < 0 || r.NanoCPUs > int64(ncpu)*1e9:
		return fmt.Errorf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu)
	case r.NanoCPUs > 0 && r.NanoCPUs < 1e9/1000:
		// under 1 ms per 100 ms period: the kernel refuses the quota
		return fmt.Errorf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu)
	case r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000):
		return errors.New("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	case r.CPUQuota > 0 && r.CPUQuota < 1000:
		return errors.New("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	case r.CPUQuota < -1:
		return fmt.Errorf("invalid value %d for CPU cfs quota: want -1 (unlimited) or at least 1000", r.CPUQuota)
	case r.CPUShares < 0 || r.CPUShares == 1 || r.CPUShares > 262144:
		return fmt.Errorf("invalid value %d for CPU shares: range is from 2 to 262144", r.CPUShares)
	case r.CPURealtimePeriod < 0 || r.CPURealtimeRuntime < -1:
		return errors.New("invalid value for cpu real-time period or runtime: must not be negative")
	case r.OOMScoreAdj != nil && (*r.OOMScoreAdj < -1000 || *r.OOMScoreAdj > 1000):
		return fmt.Errorf("invalid value %d, range for oom score adj is [-1000, 1000]", *r.OOMScoreAdj)
	}
	return nil
}

// blockIO is the spec's block I/O section; nil when nothing is asked.
func (r Resources) blockIO() (*specs.LinuxBlockIO, error) {
	t := r.BlkioThrottle
	if r.BlkioWeight == 0 && len(r.BlkioWeightDevices) == 0 && len(t.ReadBps)+len(t.WriteBps)+len(t.ReadIOps)+len(t.WriteIOps) == 0 {
		return nil, nil
	}
	weight := func(w uint16) error {
		if w != 0 && (w < 10 || w > 1000) {
			return fmt.Errorf("invalid block I/O weight %d: must be between 10 and 1000: %w", w, ErrInvalid)
		}
		return nil
	}
	b := &specs.LinuxBlockIO{}
	if r.BlkioWeight != 0 {
		if err := weight(r.BlkioWeight); err != nil {
			return nil, err
		}
		b.Weight = &r.BlkioWeight
	}
	for _, d := range r.BlkioWeightDevices {
		major, minor, err := blockDevice(d.Path)
		if err != nil {
			return nil, err
		}
		if err := weight(d.Weight); err != nil {
			return nil, err
		}
		w := d.Weight
		wd := specs.LinuxWeightDevice{Weight: &w}
		wd.Major, wd.Minor = major, minor
		b.WeightDevice = append(b.WeightDevice, wd)
	}
	for _, list := range []struct {
		in  []ThrottleDevice
		out *[]specs.LinuxThrottleDevice
	}{{t.ReadBps, &b.ThrottleReadBpsDevice}, {t.WriteBps, &b.ThrottleWriteBpsDevice}, {t.ReadIOps, &b.ThrottleReadIOPSDevice}, {t.WriteIOps, &b.ThrottleWriteIOPSDevice}} {
		for _, d := range list.in {
			major, minor, err := blockDevice(d.Path)
			if err != nil {
				return nil, err
			}
			td := specs.LinuxThrottleDevice{Rate: d.Rate}
			td.Major, td.Minor = major, minor
			*list.out = append(*list.out, td)
		}
	}
	return b, nil
}

// blockDevice is the device numbers of the block device at path.
func blockDevice(path string) (major, minor int64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, fmt.Errorf("block device %s: %w: %w", path, err, ErrInvalid)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return 0, 0, fmt.Errorf("%s is not a block device: %w", path, ErrInvalid)
	}
	return int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev)), nil
}

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

// Cgroup is the container's cgroup, the same path in each hierarchy:
// /berth/ID, or under CgroupParent.
func (s Spec) Cgroup() string { return path.Join("/", cmp.Or(s.CgroupParent, "berth"), s.ID) }

// ociSpec is the OCI runtime spec for s with rootfs mounted at root.
func (s Spec) ociSpec(root string) (*specs.Spec, error) {
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
			Resources: s.Resources.oci(s.Privileged),
		},
	}
	if s.HostNetwork {
		spec.Linux.Namespaces = slices.DeleteFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.NetworkNamespace })
	}
	spec.Annotations = s.Annotations
	if spec.Linux.Resources.BlockIO, err = s.Resources.blockIO(); err != nil {
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

func (r Resources) oci(privileged bool) *specs.LinuxResources {
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
