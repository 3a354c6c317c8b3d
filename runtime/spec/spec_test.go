package spec

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/fixture"
)

func TestBlockIO(t *testing.T) {
	if _, err := (Resources{BlkioThrottle: Throttles{ReadBps: []ThrottleDevice{{Path: "/dev/null", Rate: 1}}}}).BlockIO(); !errors.Is(err, ErrInvalid) {
		t.Errorf("a character device throttled: %v", err)
	}
	if _, err := (Resources{BlkioWeight: 5}).BlockIO(); !errors.Is(err, ErrInvalid) {
		t.Errorf("weight 5: %v", err)
	}
	if b, err := (Resources{}).BlockIO(); b != nil || err != nil {
		t.Errorf("nothing asked: %v, %v", b, err)
	}
	disk := fixture.BlockDevice(t)
	b, err := (Resources{BlkioWeight: 300, BlkioThrottle: Throttles{WriteIOps: []ThrottleDevice{{Path: disk, Rate: 50}}}}).BlockIO()
	if err != nil || *b.Weight != 300 || len(b.ThrottleWriteIOPSDevice) != 1 || b.ThrottleWriteIOPSDevice[0].Rate != 50 {
		t.Fatalf("weight and a throttle on %s: %+v, %v", disk, b, err)
	}
	var st unix.Stat_t
	unix.Stat(disk, &st)
	if d := b.ThrottleWriteIOPSDevice[0]; d.Major != int64(unix.Major(st.Rdev)) || d.Minor != int64(unix.Minor(st.Rdev)) {
		t.Errorf("%s is %d:%d, not %d:%d", disk, d.Major, d.Minor, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
}

// TestCheckRanges: the values Docker's daemon refuses are refused, with
// its words, whoever asks (docker run's flags or compose's keys); the
// values it takes pass.
func TestCheckRanges(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	i := func(v int) *int { return &v }
	for _, tc := range []struct {
		name string
		in   Resources
		want string // "" passes
	}{
		{"nothing", Resources{}, ""},
		{"cpus 1.5", Resources{NanoCPUs: 1.5e9}, ""},
		{"cpus -1", Resources{NanoCPUs: -1e9}, "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"},
		{"cpus over the host's", Resources{NanoCPUs: 3e9}, "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"},
		{"cpus and a quota", Resources{NanoCPUs: 1e9, CPUQuota: 50000}, "conflicting options: Nano CPUs and CPU Quota cannot both be set"},
		{"cpus and a period", Resources{NanoCPUs: 1e9, CPUPeriod: 50000}, "conflicting options: Nano CPUs and CPU Period cannot both be set"},
		{"period too short", Resources{CPUPeriod: 999}, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"},
		{"period negative", Resources{CPUPeriod: -1}, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"},
		{"quota too small", Resources{CPUQuota: 10}, "CPU cfs quota can not be less than 1ms (i.e. 1000)"},
		{"quota unlimited", Resources{CPUQuota: -1}, ""},
		{"shares negative", Resources{CPUShares: -1}, "invalid value -1 for CPU shares: range is from 2 to 262144"},
		{"shares 512", Resources{CPUShares: 512}, ""},
		{"memory 1k", Resources{Memory: 1024}, "minimum memory limit allowed is 6MB"},
		{"memory negative", Resources{Memory: -1}, "minimum memory limit allowed is 6MB"},
		{"reservation over the limit", Resources{Memory: 8 << 20, MemoryReservation: 16 << 20}, "minimum memory limit can not be less than memory reservation limit, see usage"},
		{"swappiness 101", Resources{MemorySwappiness: n(101)}, "invalid value: 101, valid memory swappiness range is 0-100"},
		{"swappiness -5", Resources{MemorySwappiness: n(-5)}, "invalid value: -5, valid memory swappiness range is 0-100"},
		{"oom score 1001", Resources{OOMScoreAdj: i(1001)}, "invalid value 1001, range for oom score adj is [-1000, 1000]"},
		{"pids unlimited", Resources{PidsLimit: -1}, ""},
	} {
		err := tc.in.checkRanges(2)
		if got := fmt.Sprint(err); tc.want == "" && err != nil || tc.want != "" && got != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// Check classes them
	if err := (Resources{NanoCPUs: -1}).Check(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Check of cpus -1: %v, want ErrInvalid", err)
	}
}
