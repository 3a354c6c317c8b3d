package runtime

import (
	"errors"
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
