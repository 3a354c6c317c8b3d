package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkContainerRunRm is `berth container run --rm bb:1 true` end to
// end: the figure the issue compares with `docker run --rm` (~380 ms here).
func BenchmarkContainerRunRm(b *testing.B) {
	_, run := busyboxRoot(b)
	if r := run("network", "create", "bench"); r.code != 0 {
		b.Fatal(r.stderr)
	}
	// none: loopback only; bridge: the default network (veth, address);
	// user: a network of one's own, with the embedded resolver too
	for _, mode := range []string{"none", "bridge", "bench"} {
		b.Run("network="+mode, func(b *testing.B) {
			for b.Loop() {
				if r := run("container", "run", "--rm", "--network", mode, "bb:1", "true"); r.code != 0 {
					b.Fatalf("exit %d: %s", r.code, r.stderr)
				}
			}
		})
	}
}

// BenchmarkMonitorMemory reports the memory of one running container's
// monitor: MB-rss is its whole resident set; MB-private is what it alone
// holds (its anonymous pages: heap, stacks), the cost each further container
// adds, since the rest is pages of the berth binary that every monitor
// shares through the page cache. (smaps' Private_Dirty would overstate it:
// it counts page-cache pages not yet written back, as in a binary just
// built.) The target is 8 MB.
func BenchmarkMonitorMemory(b *testing.B) {
	root, run := busyboxRoot(b)
	id := strings.TrimSpace(run("container", "run", "-d", "bb:1", "sleep", "600").stdout)
	defer run("container", "rm", "-f", id)
	var st struct{ MonitorPid int }
	data, _ := os.ReadFile(filepath.Join(root, "containers", id, "state.json"))
	json.Unmarshal(data, &st)
	fields := map[string]float64{}
	for b.Loop() {
		rollup, err := os.ReadFile("/proc/" + strconv.Itoa(st.MonitorPid) + "/smaps_rollup")
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(string(rollup), "\n") {
			if f := strings.Fields(line); len(f) >= 2 {
				fields[f[0]], _ = strconv.ParseFloat(f[1], 64)
			}
		}
	}
	b.ReportMetric(fields["Rss:"]/1024, "MB-rss")
	b.ReportMetric(fields["Anonymous:"]/1024, "MB-private")
}
