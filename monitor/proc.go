package monitor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"golang.org/x/sys/unix"
)

// Alive reports whether pid is a live process (a zombie counts as gone).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := unix.Kill(pid, 0); err != nil {
		return false
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
	return n == 0
}

// Of reports whether the recorded monitor of container id (in st)
// is alive: a recorded monitor PID may since have gone to another process,
// and one recorded in another boot is never it.
// The process's start time tells; a state written before berth recorded it
// has the monitor's command line, which names the container.
func Of(st record.State, id string) bool {
	pid := st.MonitorPid
	if OtherBoot(st) || !Alive(pid) {
		return false
	}
	if st.MonitorStart != 0 {
		start, err := runtime.StartTime(pid)
		return err == nil && start == st.MonitorStart
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(cmdline, []byte("__monitor\x00"+id))
}

// Thaw unfreezes a paused container's cgroup (v1's freezer, or v2's) so
// that a signal sent to it is acted on.
func Thaw(s runtime.Spec) {
	os.WriteFile("/sys/fs/cgroup/freezer"+s.Cgroup()+"/freezer.state", []byte("THAWED"), 0o644)
	os.WriteFile("/sys/fs/cgroup"+s.Cgroup()+"/cgroup.freeze", []byte("0"), 0o644)
}

// WaitProcess waits for process pid (a monitor, a container's init) to
// exit, through a pidfd: an event, not a polling loop. It does not reap
// it. timeout < 0 waits as long as ctx allows.
func WaitProcess(ctx context.Context, pid int, timeout time.Duration) error {
	if pid <= 0 {
		return nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil // already gone
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(timeout)
	for {
		wait := 200 * time.Millisecond // wake to notice ctx
		if timeout >= 0 {
			wait = min(wait, time.Until(deadline))
			if wait <= 0 {
				return context.DeadlineExceeded
			}
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(wait.Milliseconds())+1)
		if err != nil && err != unix.EINTR {
			return err
		}
		if n > 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// BootID is the kernel's identifier of the running boot
// (/proc/sys/kernel/random/boot_id, a random UUID made at each boot); ""
// where the kernel does not give one. A container's state records it at
// each start: a state from another boot describes processes, mounts,
// links and firewall rules that the reboot took away, and PIDs that may
// since name other processes.
func BootID() string { return bootID() }

var bootID = sync.OnceValue(func() string {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
})

// OtherBoot reports whether st was recorded in another boot than this
// one, by the boot ID recorded at the container's last start.
func OtherBoot(st record.State) bool {
	now := BootID()
	return st.BootID != "" && now != "" && st.BootID != now
}
