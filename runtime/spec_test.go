package runtime

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/fixture"
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

func TestBlockIO(t *testing.T) {
	if _, err := (Resources{BlkioThrottle: Throttles{ReadBps: []ThrottleDevice{{Path: "/dev/null", Rate: 1}}}}).blockIO(); !errors.Is(err, ErrInvalid) {
		t.Errorf("a character device throttled: %v", err)
	}
	if _, err := (Resources{BlkioWeight: 5}).blockIO(); !errors.Is(err, ErrInvalid) {
		t.Errorf("weight 5: %v", err)
	}
	if b, err := (Resources{}).blockIO(); b != nil || err != nil {
		t.Errorf("nothing asked: %v, %v", b, err)
	}
	disk := fixture.BlockDevice(t)
	b, err := (Resources{BlkioWeight: 300, BlkioThrottle: Throttles{WriteIOps: []ThrottleDevice{{Path: disk, Rate: 50}}}}).blockIO()
	if err != nil || *b.Weight != 300 || len(b.ThrottleWriteIOPSDevice) != 1 || b.ThrottleWriteIOPSDevice[0].Rate != 50 {
		t.Fatalf("weight and a throttle on %s: %+v, %v", disk, b, err)
	}
	var st unix.Stat_t
	unix.Stat(disk, &st)
	if d := b.ThrottleWriteIOPSDevice[0]; d.Major != int64(unix.Major(st.Rdev)) || d.Minor != int64(unix.Minor(st.Rdev)) {
		t.Errorf("%s is %d:%d, not %d:%d", disk, d.Major, d.Minor, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
}
