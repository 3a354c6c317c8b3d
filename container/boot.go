package container

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/dns"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
)

// bootTime is when the machine booted (/proc/stat's btime); zero if
// unknown.
var bootTime = sync.OnceValue(func() time.Time {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	lines := bufio.NewScanner(bytes.NewReader(data))
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "btime "); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(n, 0)
			}
		}
	}
	return time.Time{}
})

// fromEarlierBoot reports whether the container's last run (st) was in an
// earlier boot. A state recorded before berth kept the boot ID counts as
// one if it started before this boot and its monitor is not alive: the
// start time alone would misjudge a clock stepped after the start (btime
// is now minus the uptime, on the clock as it is now).
func fromEarlierBoot(st record.State, id string) bool {
	if st.BootID != "" {
		return monitor.OtherBoot(st)
	}
	booted := bootTime()
	return !booted.IsZero() && !st.StartedAt.IsZero() && st.StartedAt.Before(booted) && !monitor.Of(st, id)
}

// rebooted records a container that was running (or restarting) when the
// machine went down: exited with 255 and Rebooted, as Docker's daemon
// records, at its start, a container whose task is gone (exit 255, the
// time of the restore as FinishedAt). Nothing of its PIDs is signalled or
// waited for: after a reboot they may be anyone's. What outlives a reboot
// on disk is given back (its addresses, its published ports); what lived
// in the kernel or on tmpfs (processes, mounts, veths, the namespace,
// libcontainer's state, DNS entries) is gone already.
func (m *Manager) rebooted(ctx context.Context, e record.Entry) record.Entry {
	id := e.Record.ID
	forgetNetworks(ctx, m.root, id, e.State.Networks)
	st, err := m.Store.Update(ctx, id, func(st *record.State) error {
		if !(st.Running() || st.Status == record.Restarting) || !fromEarlierBoot(*st, id) {
			return nil // changed meanwhile
		}
		return rebootExit(st)
	})
	if err != nil {
		// the state cannot be written (a full disk): what is known is
		// shown, not a process of another boot as running; the next
		// command tries again
		if rebootExit(&e.State) == nil {
			e.State.Error = "the machine rebooted while the container ran; this could not be recorded: " + err.Error()
		}
		return e
	}
	e.State = st
	return e
}

// rebootExit is the exit a reboot gave a run: 255, Rebooted, no process,
// no endpoints (see rebooted).
func rebootExit(st *record.State) error {
	if err := st.To(record.Exited); err != nil {
		return err
	}
	st.ExitCode, st.Error = 255, ""
	st.Pid, st.MonitorPid, st.MonitorStart = 0, 0, 0
	st.FinishedAt = time.Now().UTC()
	st.Networks, st.Ports = nil, nil
	st.Rebooted = true
	return nil
}

// forgetNetworks gives back what a container's endpoints hold on disk
// after a reboot: its address on each network and its published ports
// (whose removal rebuilds the firewall). Unlike monitor.LeaveNetworks it touches
// no interface: the veths went with the boot, and their names may since
// be other containers'.
func forgetNetworks(ctx context.Context, root, id string, eps map[string]record.Endpoint) {
	if len(eps) == 0 {
		return
	}
	s, done, err := monitor.NetworkStore(root)
	if err != nil {
		return
	}
	defer done()
	s.Unpublish(context.WithoutCancel(ctx), id)
	for name := range eps {
		dns.RemoveEntry(monitor.DNSDir(root), name, id)
		s.IPAM().ReleaseAddress(context.WithoutCancel(ctx), name, id)
	}
}

// Restorable reports whether `berth system boot` starts the container
// again: one whose last run was in an earlier boot, by its restart
// policy, as Docker's daemon restores containers when it starts (its
// ShouldRestart, with the exit code 255 it gives those a reboot stopped):
// always, even after a stop by the user; unless-stopped, unless the user
// stopped it; on-failure, only if the reboot stopped it (it was running),
// and not past its maximum retry count; never no. A container never
// started, or started in this boot (restored already, or by hand), is
// left as it is, so that a second system boot changes nothing and a
// container the user stopped since stays stopped.
func Restorable(e record.Entry) bool {
	st := e.State
	if st.Status != record.Exited || st.StartedAt.IsZero() || e.Record.Host.AutoRemove || !fromEarlierBoot(st, e.Record.ID) {
		return false
	}
	p := e.Record.Host.RestartPolicy
	switch p.Name {
	case "always":
		return true
	case "unless-stopped":
		return !st.StopRequested
	case "on-failure":
		return st.Rebooted && !st.StopRequested && (p.MaximumRetryCount == 0 || st.RestartCount < p.MaximumRetryCount)
	}
	return false
}

// RemovableAtBoot reports whether `berth system boot` removes the
// container: one started with --rm that the reboot stopped, which its
// monitor would have removed at its exit. Docker's daemon removes those
// when it starts.
func RemovableAtBoot(e record.Entry) bool {
	return e.Record.Host.AutoRemove && e.State.Status == record.Exited && e.State.Rebooted && fromEarlierBoot(e.State, e.Record.ID)
}

// Restore starts a container that Restorable picked, with its restart
// count back at 0, as Docker's daemon starts the containers it restores
// (its containerStart resets the restart manager and the count). Its
// health starts again with the run, as every start's does (runOnce).
func (m *Manager) Restore(ctx context.Context, ref string) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if _, err := m.Store.Update(ctx, e.Record.ID, func(st *record.State) error {
		st.RestartCount = 0
		return nil
	}); err != nil {
		return err
	}
	_, err = m.Start(ctx, e.Record.ID, nil)
	return err
}
