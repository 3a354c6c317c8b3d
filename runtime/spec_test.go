package runtime

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseDeviceRule(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		rule string
		want *specs.LinuxDeviceCgroup
	}{
		{"c 1:3 mr", &specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(1), Minor: n(3), Access: "mr"}},
		{"a *:* rwm", &specs.LinuxDeviceCgroup{Allow: true, Type: "a", Access: "rwm"}},
		{"b 8:* r", &specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: n(8), Access: "r"}},
		{"c 1:3", nil},
		{"x 1:3 r", nil},
		{"c 1 r", nil},
		{"c 1:-3 r", nil},
		{"c a:3 r", nil},
		{"c 1:3 rx", nil},
		{"", nil},
	} {
		got, err := ParseDeviceRule(tc.rule)
		if tc.want == nil {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%q: %+v, %v; want ErrInvalid", tc.rule, got, err)
			}
			continue
		}
		if err != nil || !got.Allow || FormatDeviceRule(got) != FormatDeviceRule(*tc.want) {
			t.Errorf("%q: %s, %v; want %s", tc.rule, FormatDeviceRule(got), err, FormatDeviceRule(*tc.want))
		}
	}
}

func FuzzParseDeviceRule(f *testing.F) {
	for _, s := range []string{"c 1:3 mr", "a *:* rwm", "b 8:0 r", "c 1:3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		r, err := ParseDeviceRule(rule)
		if err != nil {
			return
		}
		if !r.Allow || (r.Type != "a" && r.Type != "b" && r.Type != "c") || r.Access == "" {
			t.Errorf("%q accepted as %s", rule, FormatDeviceRule(r))
		}
		if again, err := ParseDeviceRule(FormatDeviceRule(r)); err != nil || FormatDeviceRule(again) != FormatDeviceRule(r) {
			t.Errorf("%q: %s does not read back: %s, %v", rule, FormatDeviceRule(r), FormatDeviceRule(again), err)
		}
	})
}

// TestPrivilegedSpec: a privileged container gets /sys and /sys/fs/cgroup
// writable and the host's devices, as Docker gives it; any other keeps
// both read-only and gets the devices it asks for alone.
func TestPrivilegedSpec(t *testing.T) {
	mountRO := func(spec *specs.Spec, dest string) bool {
		for _, m := range spec.Mounts {
			if m.Destination == dest {
				return slices.Contains(m.Options, "ro")
			}
		}
		t.Fatalf("no mount at %s", dest)
		return false
	}
	hasDevice := func(spec *specs.Spec, path string) bool {
		return slices.ContainsFunc(spec.Linux.Devices, func(d specs.LinuxDevice) bool { return d.Path == path })
	}
	// a device every Linux host has, and one a container gets only when
	// privileged or asked for
	var hostOnly string
	for _, p := range []string{"/dev/kmsg", "/dev/loop0", "/dev/mem", "/dev/vda", "/dev/sda"} {
		if st, err := os.Stat(p); err == nil && st.Mode()&os.ModeDevice != 0 {
			hostOnly = p
			break
		}
	}
	priv, err := ociSpec(Spec{ID: "p", Privileged: true}, "/")
	if err != nil {
		t.Fatal(err)
	}
	if mountRO(priv, "/sys") || mountRO(priv, "/sys/fs/cgroup") {
		t.Errorf("privileged: /sys or /sys/fs/cgroup read-only: %+v", priv.Mounts)
	}
	if hostOnly != "" && !hasDevice(priv, hostOnly) {
		t.Errorf("privileged: no %s among %d devices", hostOnly, len(priv.Linux.Devices))
	}
	if hasDevice(priv, "/dev/console") || slices.ContainsFunc(priv.Linux.Devices, func(d specs.LinuxDevice) bool { return strings.HasPrefix(d.Path, "/dev/pts/") }) {
		t.Errorf("privileged: the console or a pts of the host given")
	}
	if rules := priv.Linux.Resources.Devices; len(rules) != 1 || !rules[0].Allow || rules[0].Access != "rwm" {
		t.Errorf("privileged: device rules %+v, want all allowed", rules)
	}
	// a --device of the same path keeps its own place and name
	both, err := ociSpec(Spec{ID: "p", Privileged: true, Devices: []Device{{Host: "/dev/null", Container: "/dev/zero"}}}, "/")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(slices.DeleteFunc(slices.Clone(both.Linux.Devices), func(d specs.LinuxDevice) bool { return d.Path != "/dev/zero" })); n != 1 {
		t.Errorf("privileged with --device at /dev/zero: %d devices there", n)
	}
	plain, err := ociSpec(Spec{ID: "u", Unconfined: true, Devices: []Device{{Host: "/dev/null", Container: "/dev/mine"}}}, "/")
	if err != nil {
		t.Fatal(err)
	}
	if !mountRO(plain, "/sys") || !mountRO(plain, "/sys/fs/cgroup") {
		t.Errorf("unprivileged: /sys or /sys/fs/cgroup writable: %+v", plain.Mounts)
	}
	if len(plain.Linux.Devices) != 1 || plain.Linux.Devices[0].Path != "/dev/mine" {
		t.Errorf("unprivileged: devices %+v, want /dev/mine alone", plain.Linux.Devices)
	}
}

// TestAdapt: Docker's defaults and refusals for memory, swap and the
// cgroup v1-only settings, on a v1 host with swap accounting, a v2 host,
// and a v1 host without swap accounting.
func TestAdapt(t *testing.T) {
	v1 := cgroupSupport{Swap: true, Swappiness: true, OOMKillDisable: true, Realtime: true}
	v2 := cgroupSupport{Swap: true}
	noSwap := cgroupSupport{Swappiness: true, OOMKillDisable: true, Realtime: true}
	ten := int64(10)
	for _, tc := range []struct {
		name     string
		host     cgroupSupport
		in, want Resources
		warnings []string
		err      bool
	}{
		{"memory alone: swap twice it", v1, Resources{Memory: 64 << 20}, Resources{Memory: 64 << 20, MemorySwap: 128 << 20}, nil, false},
		{"memory alone on v2", v2, Resources{Memory: 64 << 20}, Resources{Memory: 64 << 20, MemorySwap: 128 << 20}, nil, false},
		{"swap given", v2, Resources{Memory: 64 << 20, MemorySwap: 64 << 20}, Resources{Memory: 64 << 20, MemorySwap: 64 << 20}, nil, false},
		{"swap unlimited", v2, Resources{Memory: 64 << 20, MemorySwap: -1}, Resources{Memory: 64 << 20, MemorySwap: -1}, nil, false},
		{"nothing", v2, Resources{}, Resources{}, nil, false},
		{"no swap accounting", noSwap, Resources{Memory: 64 << 20}, Resources{Memory: 64 << 20, MemorySwap: -1},
			[]string{"Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."}, false},
		{"swap below memory", v1, Resources{Memory: 64 << 20, MemorySwap: 32 << 20}, Resources{}, nil, true},
		{"swap without memory", v1, Resources{MemorySwap: 32 << 20}, Resources{}, nil, true},
		{"v1 knobs on v1", v1, Resources{Memory: 64 << 20, MemorySwappiness: &ten, OOMKillDisable: true, CPURealtimePeriod: 1000000, CPURealtimeRuntime: 950000},
			Resources{Memory: 64 << 20, MemorySwap: 128 << 20, MemorySwappiness: &ten, OOMKillDisable: true, CPURealtimePeriod: 1000000, CPURealtimeRuntime: 950000}, nil, false},
		{"v1 memory knobs on v2", v2, Resources{Memory: 64 << 20, MemorySwappiness: &ten, OOMKillDisable: true}, Resources{Memory: 64 << 20, MemorySwap: 128 << 20},
			[]string{"Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.",
				"Your kernel does not support OomKillDisable. OomKillDisable discarded."}, false},
		{"oom killer off without a limit", v1, Resources{OOMKillDisable: true}, Resources{OOMKillDisable: true},
			[]string{"OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources."}, false},
		{"real-time on v2", v2, Resources{CPURealtimeRuntime: 950000}, Resources{}, nil, true},
		{"real-time runtime over period", v1, Resources{CPURealtimePeriod: 1000, CPURealtimeRuntime: 2000}, Resources{}, nil, true},
	} {
		r := tc.in
		warnings, err := adapt(&r, tc.host)
		if tc.err {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
			}
			continue
		}
		if err != nil || !slices.Equal(warnings, tc.warnings) || fmt.Sprintf("%+v", r) != fmt.Sprintf("%+v", tc.want) {
			t.Errorf("%s: %+v, %q, %v; want %+v, %q", tc.name, r, warnings, err, tc.want, tc.warnings)
		}
	}
}

// TestAdaptCPUs: --cpus runs as Docker's daemon runs it, a quota per
// 100 ms period, and the record keeps only those.
func TestAdaptCPUs(t *testing.T) {
	r := Resources{NanoCPUs: 1.5e9}
	if _, err := adapt(&r, cgroupSupport{Swap: true}); err != nil || r.CPUQuota != 150000 || r.CPUPeriod != 100000 || r.NanoCPUs != 0 {
		t.Errorf("cpus 1.5: %+v, %v; want a quota of 150000 per 100000", r, err)
	}
}
