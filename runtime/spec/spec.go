package spec

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	goruntime "runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errclass"
)

// ErrInvalid is a spec the runtime refuses; runtime.ErrInvalid is the same.
var ErrInvalid = errclass.Sentinel(errclass.ErrInvalid, "invalid container configuration")

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
	_, err := r.BlockIO()
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

// BlockIO is the spec's block I/O section; nil when nothing is asked.
func (r Resources) BlockIO() (*specs.LinuxBlockIO, error) {
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

// Cgroup is the container's cgroup, the same path in each hierarchy:
// /berth/ID, or under CgroupParent.
func (s Spec) Cgroup() string { return path.Join("/", cmp.Or(s.CgroupParent, "berth"), s.ID) }
