package container

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/tarfs"
)

// CopyOptions are `cp`'s settings.
type CopyOptions struct {
	// Archive keeps the owners in the copy (-a); otherwise files belong to
	// the destination's side: the container's user, or the caller.
	Archive bool
	// FollowLink copies what a source symlink points at (-L).
	FollowLink bool
	Stdin      io.Reader // the tar stream for a source of "-"
	Stdout     io.Writer // where a destination of "-" writes its tar
}

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
func (m *Manager) Copy(ctx context.Context, src, dst string, o CopyOptions) error {
	sref, spath, sIn := SplitCopyArg(src)
	dref, dpath, dIn := SplitCopyArg(dst)
	switch {
	case sIn == dIn:
		return errclass.New(ErrInvalid, "copying between containers or between local paths is not supported: one of %q and %q must be CONTAINER:PATH", src, dst)
	case sIn:
		return m.withRootfs(ctx, sref, func(root string, e Entry) error {
			from, err := inside(root, spath, o.FollowLink)
			if err != nil {
				return errclass.New(ErrNotFound, "could not find the file %s in container %s", spath, sref)
			}
			owner := &[2]int{os.Getuid(), os.Getgid()}
			if o.Archive {
				owner = nil
			}
			return copyTree(ctx, from, spath, dpath, dpath, owner, o)
		})
	default:
		from := spath
		if spath != "-" {
			if o.FollowLink {
				if p, err := filepath.EvalSymlinks(spath); err == nil {
					from = p
				}
			}
			if _, err := os.Lstat(from); err != nil {
				return errclass.Wrap(ErrNotFound, err, "could not find the file "+spath)
			}
		}
		return m.withRootfs(ctx, dref, func(root string, e Entry) error {
			to, err := inside(root, dpath, true)
			if err != nil {
				return err
			}
			owner := &[2]int{int(e.Record.Spec.Process.UID), int(e.Record.Spec.Process.GID)}
			if o.Archive {
				owner = nil
			}
			return copyTree(ctx, from, spath, to, dpath, owner, o)
		})
	}
}

// copyTree copies from (a real path, or "-") to to (a real path, or "-")
// with docker cp's rules; name and toName are the source and destination
// as the user wrote them.
func copyTree(ctx context.Context, from, name, to, toName string, owner *[2]int, o CopyOptions) error {
	if from == "-" {
		fi, err := os.Stat(to)
		if err != nil || !fi.IsDir() {
			return errclass.New(ErrInvalid, "destination %q must be an existing directory to extract a tar stream into", toName)
		}
		return fromTarfs(tarfs.Extract(ctx, o.Stdin, to, tarfs.Options{Owner: owner}))
	}
	fi, err := os.Lstat(from)
	if err != nil {
		return err
	}
	base := filepath.Base(strings.TrimSuffix(name, "/."))
	contents := fi.IsDir() && (strings.HasSuffix(name, "/.") || strings.HasSuffix(name, "/./"))
	if to == "-" {
		return tarfs.Write(ctx, from, base, o.Stdout)
	}
	dfi, derr := os.Stat(to)
	exists := derr == nil
	var dir string
	var opts = tarfs.Options{Owner: owner}
	var entry = base
	switch {
	case contents:
		if !exists {
			if err := os.Mkdir(to, fi.Mode().Perm()); err != nil {
				return errclass.Wrap(ErrInvalid, err, err.Error())
			}
		} else if !dfi.IsDir() {
			return errclass.New(ErrInvalid, "cannot copy a directory to a file: %s", toName)
		}
		dir, entry = to, ""
	case exists && dfi.IsDir():
		dir = to
	case exists && fi.IsDir():
		return errclass.New(ErrInvalid, "cannot copy a directory to a file: %s", toName)
	default:
		if strings.HasSuffix(to, "/") {
			return errclass.New(ErrNotFound, "destination directory %s does not exist", toName)
		}
		dir = filepath.Dir(to)
		if pfi, err := os.Stat(dir); err != nil || !pfi.IsDir() {
			return errclass.New(ErrNotFound, "destination directory %s does not exist", filepath.Dir(toName))
		}
		opts.Rename = [2]string{base, filepath.Base(to)}
	}
	r, w := io.Pipe()
	go func() { w.CloseWithError(tarfs.Write(ctx, from, entry, w)) }()
	err = tarfs.Extract(ctx, r, dir, opts)
	r.CloseWithError(err)
	return fromTarfs(err)
}

// inside resolves p inside root, as the container sees it: parents through
// the container's own symlinks, never outside root; the last element is
// followed only with follow.
func inside(root, p string, follow bool) (string, error) {
	p = filepath.Clean("/" + p)
	if follow {
		return securejoin.SecureJoin(root, p)
	}
	parent, err := securejoin.SecureJoin(root, filepath.Dir(p))
	if err != nil {
		return "", err
	}
	full := filepath.Join(parent, filepath.Base(p))
	if _, err := os.Lstat(full); err != nil && p != "/" {
		return "", err
	}
	return full, nil
}

// withRootfs runs fn with the container's root filesystem at hand: the
// running container's own mount, or, stopped, a mount made for the copy.
func (m *Manager) withRootfs(ctx context.Context, ref string, fn func(root string, e Entry) error) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if e.State.Running() {
		return fn(filepath.Join(m.Store.Dir(e.Record.ID), "rootfs"), e)
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
	return fn(mnt, e)
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
// that is not there is no error.
func (m *Manager) RemoveFiles(ctx context.Context, ref string, paths []string) error {
	return m.withRootfs(ctx, ref, func(root string, _ Entry) error {
		for _, p := range paths {
			full, err := inside(root, p, false)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			if filepath.Clean(full) == filepath.Clean(root) {
				return errclass.New(ErrInvalid, "refusing to remove the root of container %s", ref)
			}
			if err := os.RemoveAll(full); err != nil {
				return err
			}
		}
		return nil
	})
}
