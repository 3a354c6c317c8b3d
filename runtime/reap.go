package runtime

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// runMu serialises the starts of container processes in this process, so
// that what a failed start leaves behind is its own (see reapStages).
var runMu sync.Mutex

// startProcess starts p in lc and, when that fails, reaps what the failed
// start left behind.
func startProcess(lc *libcontainer.Container, p *libcontainer.Process) error {
	runMu.Lock()
	defer runMu.Unlock()
	before := stages()
	err := lc.Run(p)
	if err != nil {
		reapStages(before)
	}
	return err
}

// reapStages reaps the stages of runc's that a failed start left behind:
// this process's children named as runc names its stages, but for those in
// before (another start's, still at work).
//
// runc starts a process in three stages: stage 0, this process's child,
// clones stage 1 ("runc:[1:CHILD]"), which joins the container's
// namespaces and clones stage 2 ("runc:[2:INIT]" until it becomes the
// process); stages 1 and 2 are cloned with CLONE_PARENT, so they are this
// process's children too. When a start fails part-way (an exec racing the
// container's end: stage 2 made in its PID namespace, then killed as the
// namespace goes), libcontainer reaps stage 0 and returns, leaving the
// others to die unreaped.
//
// Such a zombie is not only a leak. The kernel lets a PID namespace's init
// finish its exit only once every task of the namespace is reaped
// (zap_pid_ns_processes), those whose parent is outside included: a stage
// 2 zombie that nobody reaps keeps the container's init from ever being
// waitable, and its monitor, waiting for it, waits forever.
//
// The stages may still be on their way out: each is waited for in a
// goroutine of its own, which returns once the stage has died.
func reapStages(before map[int]bool) {
	for pid := range stages() {
		if !before[pid] {
			go func() {
				var ws unix.WaitStatus
				unix.Wait4(pid, &ws, 0, nil)
			}()
		}
	}
}

// stages returns this process's children that are runc's start stages, by
// their names: its threads' lists of children where the kernel keeps them
// (CONFIG_PROC_CHILDREN), else every process's parent.
func stages() map[int]bool {
	found := map[int]bool{}
	var pids []string
	lists, _ := filepath.Glob("/proc/self/task/*/children")
	for _, l := range lists {
		data, _ := os.ReadFile(l)
		pids = append(pids, strings.Fields(string(data))...)
	}
	if len(lists) == 0 {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pids = append(pids, e.Name())
		}
	}
	self := strconv.Itoa(os.Getpid())
	for _, p := range pids {
		pid, err := strconv.Atoi(p)
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", p, "stat"))
		if err != nil {
			continue
		}
		if comm, _, ppid, ok := parseStat(stat); ok && ppid == self && bytes.HasPrefix(comm, []byte("runc:[")) {
			found[pid] = true
		}
	}
	return found
}
