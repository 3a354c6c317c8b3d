package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/cgroups"
)

// cgroupSupport is what this host's cgroups can enforce, of the settings
// that depend on the version: the part of Docker's sysinfo that its
// daemon checks a container's limits against.
type cgroupSupport struct {
	// Swap: a memory+swap limit (v1's memory.memsw.*, which needs
	// swap accounting in the kernel; v2's memory.swap.max).
	Swap bool
	// Swappiness and OOMKillDisable are v1's memory.swappiness and
	// memory.oom_control: v2 has neither (it has no per-cgroup swappiness,
	// and the OOM killer cannot be turned off for a cgroup there).
	Swappiness, OOMKillDisable bool
	// Realtime is v1's cpu.rt_period_us and cpu.rt_runtime_us; v2 has no
	// real-time group scheduling.
	Realtime bool
}

// hostSupport is what the cgroups berth's containers get here can do.
func hostSupport() cgroupSupport {
	if cgroups.IsCgroup2UnifiedMode() {
		// swap accounting is on in v2 unless the kernel was told otherwise
		cmdline, _ := os.ReadFile("/proc/cmdline")
		return cgroupSupport{Swap: !strings.Contains(" "+string(cmdline), " swapaccount=0")}
	}
	exists := func(subsystem, file string) bool {
		dir, err := cgroups.FindCgroupMountpoint("", subsystem)
		return err == nil && cgroups.PathExists(filepath.Join(dir, file))
	}
	return cgroupSupport{
		Swap:           exists("memory", "memory.memsw.limit_in_bytes"),
		Swappiness:     exists("memory", "memory.swappiness"),
		OOMKillDisable: exists("memory", "memory.oom_control"),
		Realtime:       exists("cpu", "cpu.rt_period_us"),
	}
}

// Adapt makes r what Docker's daemon would run a container with on this
// host, and returns the warnings it would give. A memory limit without a
// swap setting gets memory+swap twice the memory (otherwise the kernel
// would let the container swap without end once it reaches its limit); a
// setting the host's cgroups cannot enforce is dropped with a warning
// (cgroup v2 has no swappiness and cannot turn the OOM killer off) or
// refused (real-time CPU time), so that inspect shows what the container
// really got; --cpus becomes a CFS quota per 100 ms period. Docker's texts are kept, for users who search for them.
func Adapt(r *Resources) (warnings []string, err error) { return adapt(r, hostSupport()) }

func adapt(r *Resources, s cgroupSupport) (warnings []string, err error) {
	invalid := func(msg string) error { return fmt.Errorf("%s: %w", msg, ErrInvalid) }
	if r.Memory > 0 && r.MemorySwap != -1 && !s.Swap {
		warnings = append(warnings, "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.")
		r.MemorySwap = -1
	}
	if r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return warnings, invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if r.Memory == 0 && r.MemorySwap > 0 {
		return warnings, invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if r.MemorySwappiness != nil && !s.Swappiness {
		warnings = append(warnings, "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.")
		r.MemorySwappiness = nil
	}
	if r.OOMKillDisable && !s.OOMKillDisable {
		warnings = append(warnings, "Your kernel does not support OomKillDisable. OomKillDisable discarded.")
		r.OOMKillDisable = false
	}
	if r.OOMKillDisable && r.Memory == 0 {
		warnings = append(warnings, "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.")
	}
	if (r.CPURealtimePeriod != 0 || r.CPURealtimeRuntime != 0) && !s.Realtime {
		return warnings, invalid("Your kernel does not support CPU real-time scheduler")
	}
	if r.CPURealtimePeriod != 0 && r.CPURealtimeRuntime > r.CPURealtimePeriod {
		return warnings, invalid("cpu real-time runtime cannot be higher than cpu real-time period")
	}
	if r.Memory > 0 && r.MemorySwap == 0 {
		r.MemorySwap = 2 * r.Memory
	}
	if r.NanoCPUs > 0 {
		// as Docker's daemon runs --cpus: a quota per 100 ms
		r.CPUPeriod = 100000
		r.CPUQuota = r.NanoCPUs * r.CPUPeriod / 1e9
		r.NanoCPUs = 0
	}
	return warnings, nil
}
