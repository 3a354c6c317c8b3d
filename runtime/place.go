package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	systemd "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// MonitorSlice is the systemd slice that holds the scopes of berth's
// monitors where systemd is PID 1, as Docker's systemd cgroup driver puts
// its containers in system.slice scopes.
const MonitorSlice = "berth.slice"

// MonitorCgroup is the cgroup of berth's monitors where systemd is not PID
// 1, in every mounted hierarchy: a leaf beside the containers' cgroups
// (/berth/ID), not /berth itself, which on cgroup v2 may hold no process
// since it hands controllers to its children (the "no internal processes"
// rule).
const MonitorCgroup = "/berth/monitors"

// PlaceMonitor moves process pid, the keeper of container id's monitor,
// out of the cgroup of whatever started it (a systemd unit, a login
// session) into one of berth's own, so that the kernel's or systemd's
// killing of every process of that cgroup (a unit's stop, a logout,
// cgroup.kill) leaves the monitor, and the container it starts, running.
// It returns where the process went: a transient scope in berth.slice
// through systemd's D-Bus API where systemd is PID 1 (as Docker's systemd
// driver does: a process placed behind systemd's back would be moved again
// by systemd), else MonitorCgroup through cgroupfs. The process should not
// have started any child yet: children inherit its cgroup only from their
// fork on.
func PlaceMonitor(ctx context.Context, pid int, id string) (string, error) {
	if systemdBooted() {
		unit := MonitorScope(id, pid)
		err := startScope(ctx, unit, ScopeProperties(id, pid))
		if err == nil {
			return unit, nil
		}
		// the bus did not answer or refused: berth's own cgroup is still
		// better than the caller's
		if cerr := placeCgroupfs(pid, MonitorCgroup); cerr != nil {
			return "", errors.Join(err, cerr)
		}
		return MonitorCgroup, nil
	}
	return MonitorCgroup, placeCgroupfs(pid, MonitorCgroup)
}

// systemdBooted reports whether systemd is PID 1, as sd_booted(3) tells.
func systemdBooted() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// MonitorScope is the name of the transient scope of the monitor process
// pid of container id: the PID makes it unique while the process lives,
// since a container's next monitor may start while the last one's scope
// is still being collected.
func MonitorScope(id string, pid int) string {
	return fmt.Sprintf("berth-monitor-%s-%d.scope", id[:min(len(id), 12)], pid)
}

// ScopeProperties are the properties of the monitor's transient scope: in
// MonitorSlice, holding pid; without the default dependencies, so that
// only the last stage of a shutdown (not a stop of what the caller was
// part of) stops it, as libcontainer's systemd driver sets them; and
// collected when it ends, failed or not, so that none lingers.
func ScopeProperties(id string, pid int) []systemd.Property {
	return []systemd.Property{
		systemd.PropDescription("berth monitor of container " + id),
		systemd.PropSlice(MonitorSlice),
		systemd.PropPids(uint32(pid)),
		{Name: "DefaultDependencies", Value: godbus.MakeVariant(false)},
		{Name: "CollectMode", Value: godbus.MakeVariant("inactive-or-failed")},
	}
}

// startScope asks systemd for the transient scope unit with props and
// waits for its job to finish.
func startScope(ctx context.Context, unit string, props []systemd.Property) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := systemd.NewWithContext(ctx)
	if err != nil {
		return fmt.Errorf("connecting to systemd: %w", err)
	}
	defer conn.Close()
	done := make(chan string, 1)
	if _, err := conn.StartTransientUnitContext(ctx, unit, "fail", props, done); err != nil {
		return fmt.Errorf("starting scope %s: %w", unit, err)
	}
	select {
	case result := <-done:
		if result != "done" {
			return fmt.Errorf("starting scope %s: job %s", unit, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("starting scope %s: %w", unit, ctx.Err())
	}
}

// placeCgroupfs moves pid into cgroup path in every mounted cgroup
// hierarchy: on cgroup v2 the one; on v1 each controller's, the named ones
// (name=systemd) and a hybrid's unified one. A process left behind in any
// of them could be killed with that hierarchy's cgroup.
func placeCgroupfs(pid int, path string) error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	if len(mounts) == 0 {
		return errors.New("placing the monitor: no cgroup hierarchy is mounted")
	}
	var errs []error
	for _, mnt := range mounts {
		if err := makeCgroup(mnt, path); err != nil {
			errs = append(errs, err)
			continue
		}
		procs := filepath.Join(mnt, path, "cgroup.procs")
		if err := os.WriteFile(procs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("moving process %d to %s: %w", pid, procs, err))
		}
	}
	return errors.Join(errs...)
}

// makeCgroup makes cgroup path in the hierarchy mounted at mnt, level by
// level. A new cpuset cgroup of v1 has no processors and no memory nodes,
// and takes no process until it has (ENOSPC): each level gets its
// parent's, as libcontainer gives the containers' cgroups theirs.
func makeCgroup(mnt, path string) error {
	dir := mnt
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		parent := dir
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("making cgroup %s: %w", dir, err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil || len(bytes.TrimSpace(cur)) > 0 {
				continue // not a v1 cpuset, or set
			}
			if _, err := os.Stat(filepath.Join(dir, "cgroup.controllers")); err == nil {
				continue // v2's cpuset: empty means the parent's
			}
			from, err := os.ReadFile(filepath.Join(parent, f))
			if err != nil {
				return fmt.Errorf("making cgroup %s: %w", dir, err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), from, 0o644); err != nil {
				return fmt.Errorf("making cgroup %s: %s: %w", dir, f, err)
			}
		}
	}
	return nil
}

// cgroupMounts are the mount points of the cgroup hierarchies, one for
// each (a hierarchy mounted twice is moved into once).
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mounts []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, after := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(after) < 3 || (after[0] != "cgroup" && after[0] != "cgroup2") {
			continue
		}
		// a v1 hierarchy is told by its controllers and name= in the
		// super options; there is one v2 hierarchy
		key := after[0]
		if key == "cgroup" {
			var opts []string
			for _, o := range strings.Split(after[2], ",") {
				if o != "rw" && o != "ro" && !strings.HasPrefix(o, "release_agent=") && o != "clone_children" && o != "noprefix" && o != "xattr" {
					opts = append(opts, o)
				}
			}
			key += ":" + strings.Join(opts, ",")
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		mounts = append(mounts, UnescapeMount(fields[4]))
	}
	return mounts, sc.Err()
}

// UnescapeMount undoes mountinfo's octal escapes (\040 for a space) in
// a mount point.
func UnescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
