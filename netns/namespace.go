package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// CreateNamespace makes a network namespace that outlives every process
// in it, bind-mounted at path, and returns a handle on it (the caller
// closes it). A container's namespace is made this way before the
// container: its networks are attached while nothing runs yet, and the
// runtime then joins it by path, so the container's first instruction
// already has its network. Nothing is left at path if it fails.
func CreateNamespace(path string) (vnetns.NsHandle, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return vnetns.None(), err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o600)
	if err != nil {
		return vnetns.None(), fmt.Errorf("creating network namespace file: %w", err)
	}
	f.Close()
	ns, err := newBound(path)
	if err != nil {
		os.Remove(path)
		return vnetns.None(), err
	}
	return ns, nil
}

// newBound unshares a network namespace on a thread of its own (see
// onThread) and bind-mounts it at path.
func newBound(path string) (vnetns.NsHandle, error) {
	ns := vnetns.None()
	err := onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unsharing a network namespace: %w", err)
		}
		return nil
	}, func() (err error) {
		ns, err = bind(path)
		return err
	})
	if err != nil && ns.IsOpen() {
		// bound, but the thread could not come back: undone
		ns.Close()
		unix.Unmount(path, unix.MNT_DETACH)
		return vnetns.None(), err
	}
	return ns, err
}

// bind bind-mounts the calling thread's network namespace at path and
// opens it.
func bind(path string) (vnetns.NsHandle, error) {
	self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
	if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
		return vnetns.None(), fmt.Errorf("bind-mounting the network namespace at %s: %w", path, err)
	}
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		unix.Unmount(path, unix.MNT_DETACH)
	}
	return ns, err
}

// RemoveNamespace unmounts and removes the namespace at path. The kernel
// frees the namespace, and every interface still in it (the container's
// veth ends, and with them their host ends), once nothing holds it. A path
// already gone is not an error.
func RemoveNamespace(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
