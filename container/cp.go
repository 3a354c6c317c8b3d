package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/tarfs"
)

// SplitCopyArg reads a cp argument: "CONTAINER:PATH" names a path in a
// container; anything else, including a local path with a ":" after a "/",
// is a path on this machine.
func SplitCopyArg(arg string) (ref, path string, inContainer bool) {
	i := strings.Index(arg, ":")
	if i <= 0 || strings.Contains(arg[:i], "/") {
		return "", arg, false
	}
	return arg[:i], arg[i+1:], true
}

// Copy copies between a container and this machine as docker cp does:
// exactly one of src and dst is "CONTAINER:PATH". A directory is copied into
// an existing directory under its own name, or becomes dst when dst does not
// exist; a source ending in "/." copies the directory's contents; "-" is a
// tar stream on stdin or stdout.
//
// The container's files are reached through a descriptor of its root (its
// own view, volumes included, while it runs), and every path in it is
// resolved inside that root at the moment of use (tarfs's In functions), so
// a container that swaps a directory for a symlink while the copy runs
// cannot send it to the host's files.
func (m *Manager) Copy(ctx context.Context, src, dst string, o proc.CopyOptions) error {
	sref, spath, sIn := SplitCopyArg(src)
	dref, dpath, dIn := SplitCopyArg(dst)
	switch {
	case sIn == dIn:
		return errclass.New(ErrInvalid, "copying between containers or between local paths is not supported: one of %q and %q must be CONTAINER:PATH", src, dst)
	case sIn:
		return m.withRoot(ctx, sref, func(root *os.File, e record.Entry) error {
			if _, err := tarfs.StatIn(root, spath, o.FollowLink); err != nil {
				return errclass.New(ErrNotFound, "could not find the file %s in container %s", spath, sref)
			}
			owner := &[2]int{os.Getuid(), os.Getgid()}
			if o.Archive {
				owner = nil
			}
			host, to, err := hostSide(dpath)
			if err != nil {
				return err
			}
			defer host.Close()
			return copyTree(ctx, place{root, spath, spath}, place{host, to, dpath}, o.FollowLink, owner, o)
		})
	default:
		var host *os.File
		from := spath
		if spath != "-" {
			var err error
			if host, from, err = hostSide(spath); err != nil {
				return err
			}
			defer host.Close()
			if _, err := tarfs.StatIn(host, from, o.FollowLink); err != nil {
				return errclass.Wrap(ErrNotFound, err, "could not find the file "+spath)
			}
		}
		return m.withRoot(ctx, dref, func(root *os.File, e record.Entry) error {
			owner := &[2]int{int(e.Record.Spec.Process.UID), int(e.Record.Spec.Process.GID)}
			if o.Archive {
				owner = nil
			}
			return copyTree(ctx, place{host, from, spath}, place{root, dpath, dpath}, o.FollowLink, owner, o)
		})
	}
}

// place is one side of a copy: path inside root (nil with path "-": a tar
// stream), and the path as the user wrote it, for messages.
type place struct {
	root       *os.File
	path, name string
}

// hostSide opens this machine's root for a local path of a copy ("-"
// stays a stream), and makes the path absolute.
func hostSide(p string) (*os.File, string, error) {
	if p == "-" {
		return nil, p, nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, "", err
	}
	if strings.HasSuffix(p, "/") && !strings.HasSuffix(abs, "/") {
		abs += "/"
	}
	root, err := tarfs.OpenRoot("/")
	return root, abs, err
}

// copyTree copies from to to with docker cp's rules; follow follows a
// symlink at the source's end.
func copyTree(ctx context.Context, from, to place, follow bool, owner *[2]int, o proc.CopyOptions) error {
	isDir := func(st unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFDIR }
	if from.path == "-" {
		st, err := tarfs.StatIn(to.root, to.path, true)
		if err != nil || !isDir(st) {
			return errclass.New(ErrInvalid, "destination %q must be an existing directory to extract a tar stream into", to.name)
		}
		return fromTarfs(tarfs.ExtractIn(ctx, o.Stdin, to.root, to.path, tarfs.Options{Owner: owner}))
	}
	fst, err := tarfs.StatIn(from.root, from.path, follow)
	if err != nil {
		return err
	}
	base := filepath.Base(strings.TrimSuffix(from.name, "/."))
	contents := isDir(fst) && (strings.HasSuffix(from.name, "/.") || strings.HasSuffix(from.name, "/./"))
	if to.path == "-" {
		return tarfs.WriteIn(ctx, from.root, from.path, follow, base, o.Stdout, tarfs.WriteOptions{})
	}
	dst, derr := tarfs.StatIn(to.root, to.path, true)
	exists := derr == nil
	var dir string
	var opts = tarfs.Options{Owner: owner}
	var entry = base
	switch {
	case contents:
		if !exists {
			if err := tarfs.MkdirIn(to.root, to.path, os.FileMode(fst.Mode&0o777)); err != nil {
				return errclass.Wrap(ErrInvalid, err, err.Error())
			}
		} else if !isDir(dst) {
			return errclass.New(ErrInvalid, "cannot copy a directory to a file: %s", to.name)
		}
		dir, entry = to.path, ""
	case exists && isDir(dst):
		dir = to.path
	case exists && isDir(fst):
		return errclass.New(ErrInvalid, "cannot copy a directory to a file: %s", to.name)
	default:
		if strings.HasSuffix(to.path, "/") {
			return errclass.New(ErrNotFound, "destination directory %s does not exist", to.name)
		}
		dir = filepath.Dir(to.path)
		if pst, err := tarfs.StatIn(to.root, dir, true); err != nil || !isDir(pst) {
			return errclass.New(ErrNotFound, "destination directory %s does not exist", filepath.Dir(to.name))
		}
		opts.Rename = [2]string{base, filepath.Base(to.path)}
	}
	r, w := io.Pipe()
	go func() {
		w.CloseWithError(tarfs.WriteIn(ctx, from.root, from.path, follow, entry, w, tarfs.WriteOptions{}))
	}()
	err = tarfs.ExtractIn(ctx, r, to.root, dir, opts)
	r.CloseWithError(err)
	return fromTarfs(err)
}

// withRoot runs fn with a descriptor of the container's root at hand: a
// running container's own, as its processes see it (/proc/PID/root, its
// volumes and tmpfs mounts included, as docker cp copies them), or,
// stopped, a mount of its root filesystem made for the copy.
func (m *Manager) withRoot(ctx context.Context, ref string, fn func(root *os.File, e record.Entry) error) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if e.State.Running() && monitor.Alive(e.State.Pid) {
		root, err := tarfs.OpenRoot(fmt.Sprintf("/proc/%d/root", e.State.Pid))
		if err != nil {
			return err
		}
		defer root.Close()
		return fn(root, e)
	}
	mnt, err := os.MkdirTemp(m.Store.Dir(e.Record.ID), "cp-")
	if err != nil {
		return err
	}
	defer os.Remove(mnt)
	if err := runtime.MountRootfs(e.Record.Spec.Rootfs, mnt); err != nil {
		return err
	}
	defer runtime.Unmount(mnt)
	root, err := tarfs.OpenRoot(mnt)
	if err != nil {
		return err
	}
	defer root.Close()
	return fn(root, e)
}

func fromTarfs(err error) error {
	if errors.Is(err, tarfs.ErrInvalid) || errors.Is(err, fs.ErrNotExist) {
		return errclass.Wrap(ErrInvalid, err, err.Error())
	}
	return err
}

// RemoveFiles removes paths, and what is under them, from the container's
// filesystem, as rm -rf in it would, but without running anything there,
// so that images without a shell are served too (watch's sync). A path
// that is not there is no error. Like Copy, it resolves each path inside
// the container's root at the moment of use.
func (m *Manager) RemoveFiles(ctx context.Context, ref string, paths []string) error {
	return m.withRoot(ctx, ref, func(root *os.File, _ record.Entry) error {
		for _, p := range paths {
			if filepath.Clean("/"+p) == "/" {
				return errclass.New(ErrInvalid, "refusing to remove the root of container %s", ref)
			}
			if err := tarfs.RemoveIn(root, p); err != nil {
				return err
			}
		}
		return nil
	})
}
