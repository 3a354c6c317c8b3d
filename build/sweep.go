package build

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime"
)

// A build works in <root>/build/b-ID and holds the lock b-ID.lock
// beside it from before the directory exists until it is gone. A build
// killed on the way (SIGKILL, a crash) leaves its directory, the mounts
// in it and perhaps a step's container; the next build sweeps them: a
// directory whose lock nobody holds is a dead build's.

// workspace makes a build's directory under work, locked, and returns
// it with the function that removes it and drops the lock.
func workspace(work string) (dir string, done func(), err error) {
	id := randomID()
	lock, err := os.OpenFile(filepath.Join(work, "b-"+id+".lock"), os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o600)
	if err != nil {
		return "", nil, err
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		lock.Close()
		return "", nil, err
	}
	dir = filepath.Join(work, "b-"+id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		os.Remove(lock.Name())
		lock.Close()
		return "", nil, err
	}
	return dir, func() {
		if clearBuild(dir) == nil {
			os.Remove(lock.Name())
		}
		lock.Close()
	}, nil
}

// containerID names the container of step seq of the build in dir: the
// sweep finds it from the directory alone.
func containerID(dir string, seq int) string {
	return fmt.Sprintf("berth-build-%s-%d", strings.TrimPrefix(filepath.Base(dir), "b-"), seq)
}

// sweep clears what dead builds left under work, with the runtime whose
// state is in runDir.
func sweep(work, runDir string) {
	entries, err := os.ReadDir(work)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "b-") {
			continue
		}
		dir := filepath.Join(work, e.Name())
		lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			continue
		}
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			lock.Close() // a live build's
			continue
		}
		killSteps(dir, runDir)
		sweepAddresses(filepath.Dir(work), strings.TrimSuffix(containerID(dir, 0), "0"))
		if clearBuild(dir) == nil {
			os.Remove(lock.Name())
		}
		lock.Close()
	}
}

// killSteps deletes the containers of the dead build in dir.
func killSteps(dir, runDir string) {
	rt, err := runtime.New(runDir)
	if err != nil {
		return
	}
	runs, _ := filepath.Glob(filepath.Join(dir, "run-*"))
	for _, bundle := range runs {
		var seq int
		if _, err := fmt.Sscanf(filepath.Base(bundle), "run-%d", &seq); err != nil {
			continue
		}
		id := containerID(dir, seq)
		if c, err := rt.Load(id, bundle); err == nil {
			// its parent is gone: the kill is seen once the process is
			// (a zombie counts as stopped), and only then can it go
			c.Signal(unix.SIGKILL)
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if st, err := c.Status(); err != nil || st == "stopped" {
					break
				}
			}
			c.Delete()
		}
		rt.Forget(id)
	}
}

// clearBuild unmounts what is mounted in a build's directory, deepest
// first, and removes it: never while anything is still mounted there,
// since removing through a mount would reach into the layers under it.
func clearBuild(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	var errs []error
	for _, m := range mounts {
		errs = append(errs, runtime.Unmount(m.Mountpoint))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if left, err := mountsUnder(dir); err != nil || len(left) > 0 {
		return fmt.Errorf("build directory %s: still mounted", dir)
	}
	return os.RemoveAll(dir)
}

// mountsUnder lists the mounts at or under dir in this thread's mount
// namespace: /proc/self is the main thread's, which libcontainer may have
// left in a container's namespace (see runtime's tests).
func mountsUnder(dir string) ([]*mountinfo.Info, error) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return mountinfo.GetMountsFromReader(f, mountinfo.PrefixFilter(dir))
}
