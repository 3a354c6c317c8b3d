package runtime

import (
	goruntime "runtime"
	"slices"

	"github.com/opencontainers/runc/libcontainer/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SeccompSupported is whether this binary was built with seccomp (the
// "seccomp" build tag and libseccomp). Without it containers run without a
// syscall filter, and berth says so.
const SeccompSupported = seccomp.Enabled

// deniedSyscalls are the system calls berth's default profile refuses with
// EPERM: those Docker's default keeps from an unprivileged container
// because they reach the host kernel's global state (modules, clocks,
// reboot, swap, keyrings, accounting), cross the container's boundary
// (other processes' memory, namespaces, file handles), or widen the
// kernel's attack surface (bpf, perf, userfaultfd). A capability the
// container holds lifts the calls it guards, as in Docker.
var deniedSyscalls = map[string][]string{
	"": {"add_key", "bpf", "fanotify_init", "get_kernel_syms", "kexec_file_load", "kexec_load", "keyctl",
		"lookup_dcookie", "move_mount", "nfsservctl", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
		"perf_event_open", "query_module", "request_key", "swapon", "swapoff", "sysfs", "_sysctl", "uselib",
		"userfaultfd", "ustat", "vm86", "vm86old", "quotactl", "quotactl_fd", "name_to_handle_at", "open_by_handle_at"},
	"CAP_SYS_ADMIN":  {"mount", "umount", "umount2", "pivot_root", "setns", "unshare", "setdomainname", "sethostname", "mount_setattr"},
	"CAP_SYS_MODULE": {"create_module", "delete_module", "finit_module", "init_module"},
	"CAP_SYS_TIME":   {"adjtimex", "clock_adjtime", "clock_adjtime64", "clock_settime", "clock_settime64", "settimeofday", "stime"},
	"CAP_SYS_BOOT":   {"reboot"},
	"CAP_SYS_PTRACE": {"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "process_madvise"},
	"CAP_SYS_RAWIO":  {"ioperm", "iopl"},
	"CAP_SYS_NICE":   {"get_mempolicy", "set_mempolicy", "mbind", "move_pages"},
	"CAP_SYSLOG":     {"syslog"},
	"CAP_SYS_PACCT":  {"acct"},
}

// defaultSeccomp is berth's default profile for a container holding caps.
//
// Unlike Docker's, which allows a list of calls and refuses the rest, it
// refuses a list and allows the rest: a system call added to the kernel
// after this list was written is allowed. Clone flags that create
// namespaces are not filtered (Docker's are, without CAP_SYS_ADMIN); unshare
// and setns are.
func defaultSeccomp(caps []string) *specs.LinuxSeccomp {
	var names []string
	for capability, calls := range deniedSyscalls {
		if capability != "" && slices.Contains(caps, capability) {
			continue
		}
		names = append(names, calls...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	eperm := uint(1)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: architectures(),
		Syscalls:      []specs.LinuxSyscall{{Names: names, Action: specs.ActErrno, ErrnoRet: &eperm}},
	}
}

// architectures are the system call ABIs a process on this machine can use:
// the filter must cover each, or a 32-bit call would slip past it.
func architectures() []specs.Arch {
	switch goruntime.GOARCH {
	case "amd64":
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	}
	return nil
}
