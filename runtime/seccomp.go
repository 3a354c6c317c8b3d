package runtime

import (
	profiles "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SeccompSupported is whether this binary was built with seccomp (the
// "seccomp" build tag and libseccomp). Without it containers run without a
// syscall filter, and berth says so.
const SeccompSupported = seccomp.Enabled

// seccompFilter is the system call filter for spec, whose capabilities are
// already set: Docker's default profile, or the profile (Docker's JSON
// format) the user gave with --security-opt seccomp=FILE.
//
// Docker's default is an allowlist: a call it does not name fails with
// EPERM, and runc turns calls newer than the profile's libseccomp knows
// into ENOSYS so that programs fall back to older ones. Groups of calls
// come and go with the capabilities in the bounding set (mount, unshare
// and setns with CAP_SYS_ADMIN, ptrace with CAP_SYS_PTRACE, ...) and with
// the kernel's version, which is why the profile is resolved per
// container rather than once.
func seccompFilter(spec *specs.Spec, profile string) (*specs.LinuxSeccomp, error) {
	if profile == "" {
		return profiles.GetDefaultProfile(spec)
	}
	return profiles.LoadProfile(profile, spec)
}

// CheckSeccompProfile reports whether profile, in Docker's JSON format,
// can be loaded, so that a bad file is refused before a container is made.
func CheckSeccompProfile(profile string) error {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}}
	filter, err := seccompFilter(spec, profile)
	if err != nil {
		return err
	}
	// libcontainer's conversion is what knows the actions and operators
	if _, err := specconv.SetupSeccomp(filter); err != nil {
		return err
	}
	return nil
}
