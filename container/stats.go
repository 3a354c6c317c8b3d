package container

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
)

// Stats samples the resource use of running containers twice, interval
// apart (CPU % is use over time), and returns a row for each.
func (m *Manager) Stats(ctx context.Context, refs []string, interval time.Duration) ([]proc.StatsRow, error) {
	var entries []record.Entry
	if len(refs) == 0 {
		all, err := m.List(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range all {
			if e.State.Running() {
				entries = append(entries, e)
			}
		}
	}
	for _, r := range refs {
		e, err := m.Get(ctx, r)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	first := map[string]runtime.Usage{}
	for _, e := range entries {
		first[e.Record.ID], _ = m.rt.Stats(e.Record.ID)
	}
	start := time.Now()
	select {
	case <-time.After(interval):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	elapsed := time.Since(start)
	var sys unix.Sysinfo_t
	unix.Sysinfo(&sys)
	hostMem := uint64(sys.Totalram) * uint64(sys.Unit)
	var rows []proc.StatsRow
	for _, e := range entries {
		row := proc.StatsRow{Container: e.Record.ID[:12], ID: e.Record.ID, Name: e.Record.Name, NetIO: "0B / 0B",
			CPUPerc: "0.00%", MemUsage: "0B / 0B", MemPerc: "0.00%", BlockIO: "0B / 0B", PIDs: "0"}
		u, err := m.rt.Stats(e.Record.ID)
		if err == nil && e.State.Running() {
			cpu := float64(u.CPUNanos-first[e.Record.ID].CPUNanos) / float64(elapsed.Nanoseconds()) * 100
			limit := u.MemoryLimit
			if limit == 0 || limit > hostMem {
				limit = hostMem
			}
			row.CPUPerc = fmt.Sprintf("%.2f%%", cpu)
			row.MemUsage = units.BytesSize(float64(u.Memory)) + " / " + units.BytesSize(float64(limit))
			row.MemPerc = fmt.Sprintf("%.2f%%", float64(u.Memory)/float64(limit)*100)
			row.BlockIO = units.HumanSizeWithPrecision(float64(u.BlockRead), 3) + " / " + units.HumanSizeWithPrecision(float64(u.BlockWrite), 3)
			row.PIDs = strconv.FormatUint(u.Pids, 10)
			if !e.Record.Host.HostNetwork {
				if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", e.State.Pid)); err == nil {
					rx, tx := parseNetDev(string(data))
					row.NetIO = units.HumanSizeWithPrecision(float64(rx), 3) + " / " + units.HumanSizeWithPrecision(float64(tx), 3)
				}
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// Top runs the host's ps with psArgs (-ef when empty), as Docker does, and
// keeps the titles and the rows of the container's processes.
func (m *Manager) Top(ctx context.Context, ref string, psArgs []string) (proc.Processes, error) {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return proc.Processes{}, err
	}
	if !e.State.Running() {
		return proc.Processes{}, errclass.New(ErrState, "container %s is not running", e.Record.ID)
	}
	pids, err := m.rt.Processes(e.Record.ID)
	if err != nil {
		return proc.Processes{}, err
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.CommandContext(ctx, "ps", psArgs...).Output()
	if err != nil {
		return proc.Processes{}, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("running ps %s: %v", strings.Join(psArgs, " "), err))
	}
	return parsePS(string(out), pids, psArgs)
}

// parsePS keeps the lines of ps's output whose PID is one of pids, split
// into the title's columns; the last column takes the rest of the line, as
// a command has spaces.
func parsePS(out string, pids []int, psArgs []string) (proc.Processes, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	p := proc.Processes{Titles: strings.Fields(lines[0])}
	col := slices.Index(p.Titles, "PID")
	if col < 0 {
		return proc.Processes{}, errclass.New(ErrInvalid, "ps %s prints no PID column", strings.Join(psArgs, " "))
	}
	n := len(p.Titles)
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col || len(f) < n {
			continue
		}
		if pid, err := strconv.Atoi(f[col]); err == nil && slices.Contains(pids, pid) {
			p.Processes = append(p.Processes, append(f[:n-1:n-1], strings.Join(f[n-1:], " ")))
		}
	}
	return p, nil
}

// parseNetDev sums the bytes received and sent on the interfaces of a
// /proc/PID/net/dev, which lists those of PID's network namespace:
// the container's, as docker stats' NET I/O; loopback is left out.
func parseNetDev(data string) (rx, tx uint64) {
	for _, line := range strings.Split(data, "\n") {
		name, counters, ok := strings.Cut(line, ":")
		f := strings.Fields(counters)
		if !ok || strings.TrimSpace(name) == "lo" || len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 == nil && err2 == nil {
			rx, tx = rx+r, tx+t
		}
	}
	return rx, tx
}
