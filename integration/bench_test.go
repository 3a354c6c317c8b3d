package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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

// BenchmarkCompose is `berth up -d` and `berth down` of generated stacks
// of 1, 10 and 50 services, each `init: true` with a long sleep and every
// second one depending on the one before, as the issue sets them; it
// reports seconds for each (docker compose here: 0.48 / 3.06 / 17.5 s up,
// 0.37 / 0.87 / 4.56 s down).
func BenchmarkCompose(b *testing.B) {
	root, _ := busyboxRoot(b)
	for _, n := range []int{1, 10, 50} {
		var y strings.Builder
		y.WriteString("name: bench\nservices:\n")
		for i := range n {
			fmt.Fprintf(&y, "  s%d:\n    image: bb:1\n    command: [\"sleep\", \"3600\"]\n    init: true\n", i)
			if i%2 == 1 {
				fmt.Fprintf(&y, "    depends_on: [s%d]\n", i-1)
			}
		}
		dir := project(b, map[string]string{"compose.yaml": y.String()})
		compose := func(args ...string) result { return berth(b, dir, "", append([]string{"--root", root}, args...)...) }
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			var up, down time.Duration
			for b.Loop() {
				t0 := time.Now()
				if r := compose("up", "-d"); r.code != 0 {
					b.Fatalf("up: %s", r.stderr)
				}
				t1 := time.Now()
				if r := compose("down", "-t", "10"); r.code != 0 {
					b.Fatalf("down: %s", r.stderr)
				}
				up, down = up+t1.Sub(t0), down+time.Since(t1)
			}
			b.ReportMetric(up.Seconds()/float64(b.N), "s-up")
			b.ReportMetric(down.Seconds()/float64(b.N), "s-down")
		})
	}
}
