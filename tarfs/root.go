package tarfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// Why everything here goes through file descriptors: a tree inside a
// running container is the container's to change while berth works on it.
// A path that was resolved once, safely, and then walked again by name (to
// open, create, chmod or remove) can meet a symlink swapped in between, and
// the kernel would follow that symlink as the host sees it: out of the
// container, onto the host's files (the CVE-2018-15664 class). So each
// directory is resolved inside its root at the moment of use, by openat2's
// RESOLVE_IN_ROOT where the kernel has it (pathrs-lite, with a checked
// fallback where not), and every other step is an *at call on that
// directory's descriptor with a single name that is never followed: a
// symlink met there is a symlink, never a way out. A descriptor stays on the
// directory it was opened on even when the container moves it, and that
// directory is still inside the container.

// OpenRoot opens dir as the root that paths of the In functions are
// resolved in ("/" for the host's own paths).
func OpenRoot(dir string) (*os.File, error) {
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	return f, nil
}

// openIn opens p inside root as an O_PATH handle; with follow a symlink at
// its end is followed (inside root), without it the handle is the symlink.
func openIn(root *os.File, p string, follow bool) (*os.File, error) {
	p = filepath.Clean("/" + p)
	if follow || p == "/" {
		return pathrs.OpenatInRoot(root, p)
	}
	parent, err := pathrs.OpenatInRoot(root, filepath.Dir(p))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	return openAt(parent, filepath.Base(p), unix.O_PATH)
}

// openAt opens name in dir, never following a symlink there.
func openAt(dir *os.File, name string, flags int) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "openat", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// StatIn is lstat (or stat, with follow) of p inside root.
func StatIn(root *os.File, p string, follow bool) (unix.Stat_t, error) {
	var st unix.Stat_t
	h, err := openIn(root, p, follow)
	if err != nil {
		return st, err
	}
	defer h.Close()
	err = unix.Fstat(int(h.Fd()), &st)
	return st, err
}

// MkdirIn makes the directory p inside root, whose parent must exist.
func MkdirIn(root *os.File, p string, mode os.FileMode) error {
	p = filepath.Clean("/" + p)
	parent, err := pathrs.OpenatInRoot(root, filepath.Dir(p))
	if err != nil {
		return err
	}
	defer parent.Close()
	if err := unix.Mkdirat(int(parent.Fd()), filepath.Base(p), uint32(mode.Perm())); err != nil {
		return &os.PathError{Op: "mkdir", Path: p, Err: err}
	}
	return nil
}

// RemoveIn removes p inside root and everything under it, as rm -rf in the
// root would; a p that is not there is no error. The root itself is never
// removed.
func RemoveIn(root *os.File, p string) error {
	p = filepath.Clean("/" + p)
	if p == "/" {
		return fmt.Errorf("refusing to remove the root")
	}
	parent, err := pathrs.OpenatInRoot(root, filepath.Dir(p))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer parent.Close()
	if err := removeAt(parent, filepath.Base(p)); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: p, Err: err}
	}
	return nil
}

// removeAt removes name in dir and, for a directory, what is in it, through
// descriptors only.
func removeAt(dir *os.File, name string) error {
	err := unix.Unlinkat(int(dir.Fd()), name, 0)
	if err == nil || !(errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM)) {
		return err
	}
	sub, err := openAt(dir, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	names, err := sub.Readdirnames(-1)
	if err == nil {
		for _, n := range names {
			if err = removeAt(sub, n); err != nil && !errors.Is(err, unix.ENOENT) {
				break
			}
			err = nil
		}
	}
	sub.Close()
	if err != nil {
		return err
	}
	return unix.Unlinkat(int(dir.Fd()), name, unix.AT_REMOVEDIR)
}

// procPath names an open file through /proc/self/fd, for the calls that
// take only a path (chmod, xattrs, times): the kernel follows that link to
// the very inode the descriptor holds, never through a name.
func procPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

// readDir lists a directory handle's names, sorted.
func readDir(h *os.File) ([]string, error) {
	d, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

// parents resolves (and makes, as MkdirAll would) the directories entries
// are extracted into, inside root, keeping the last few open: a stream's
// entries come directory by directory.
type parents struct {
	root  *os.File
	cache map[string]*os.File
}

func (p *parents) get(dir string) (*os.File, error) {
	if f, ok := p.cache[dir]; ok {
		return f, nil
	}
	f, err := pathrs.MkdirAllHandle(p.root, dir, 0o755)
	if errors.Is(err, unix.ENOTDIR) {
		// a symlink on the way that points at nothing yet: made where it
		// points, inside root, as tar and Docker's layers have it.
		// SecureJoin only reads the links; the making is as safe as above
		top := procPath(p.root)
		if joined, jerr := securejoin.SecureJoin(top, dir); jerr == nil {
			f, err = pathrs.MkdirAllHandle(p.root, strings.TrimPrefix(joined, top), 0o755)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(p.cache) >= 64 {
		p.close()
	}
	if p.cache == nil {
		p.cache = map[string]*os.File{}
	}
	p.cache[dir] = f
	return f, nil
}

// forget drops what is at or under dir, which an entry replaced.
func (p *parents) forget(dir string) {
	for k, f := range p.cache {
		if k == dir || strings.HasPrefix(k, dir+"/") {
			f.Close()
			delete(p.cache, k)
		}
	}
}

func (p *parents) close() {
	for k, f := range p.cache {
		f.Close()
		delete(p.cache, k)
	}
}
