// Package tarfs moves file trees in and out of tar streams: Extract writes
// a stream into a directory, Write archives a tree. Both keep owners, modes,
// times, hard and symbolic links, device nodes and extended attributes.
//
// Extract never writes outside its directory: entry names are cleaned, a
// name that climbs out is refused, and parent directories are resolved inside
// the directory, symlinks included, so a link planted by an earlier entry
// cannot redirect a later one. In Overlay mode, whiteout entries become what
// overlayfs understands (0/0 character devices, and the trusted.overlay.opaque
// xattr for opaque directories), for image layers.
package tarfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errclass"
)

// ErrInvalid: the stream is not a tar, or names a path outside its root.
var ErrInvalid = errors.New("invalid archive")

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	// OpaqueXattr marks a directory whose lower-layer contents overlayfs
	// must hide; whiteouts are 0/0 character devices.
	OpaqueXattr = "trusted.overlay.opaque"
)

// Options shape Extract.
type Options struct {
	// Overlay turns whiteouts into overlayfs form (image layers).
	Overlay bool
	// Rename, when set, replaces the first path component of every entry
	// (copying a directory under another name).
	Rename [2]string
	// Owner, when set, owns every extracted entry instead of the owners in
	// the stream (docker cp without -a).
	Owner *[2]int
}

func wrap(err error, msg string) error { return errclass.Wrap(ErrInvalid, err, msg) }

// Extract writes a tar stream into dir. Every entry lands inside dir: names
// are cleaned, and parent directories are resolved within dir, symlinks
// included, so neither "../" nor a symlink planted by an earlier entry can
// write outside it. Owners, modes, times, xattrs, hard links and device nodes
// are kept.
func Extract(ctx context.Context, r io.Reader, dir string, o Options) error {
	type dirTimes struct {
		path         string
		atime, mtime time.Time
	}
	var dirs []dirTimes
	buf := make([]byte, 128<<10) // one copy buffer for every file
	err := EachEntry(ctx, r, "archive", func(hdr *tar.Header, body io.Reader) error {
		rel, err := EntryName(hdr.Name)
		if err != nil || rel == "." {
			return err
		}
		if o.Rename[0] != "" {
			if rel = rename(rel, o.Rename); rel == "" {
				return nil
			}
			if hdr.Typeflag == tar.TypeLink {
				hdr.Linkname = rename(filepath.Clean(hdr.Linkname), o.Rename)
			}
		}
		parent, err := securejoin.SecureJoin(dir, filepath.Dir(rel))
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		base := filepath.Base(rel)
		if o.Overlay && base == opaqueMarker {
			if err := unix.Lsetxattr(parent, OpaqueXattr, []byte("y"), 0); err != nil {
				return fmt.Errorf("marking %q opaque: %w", filepath.Dir(rel), err)
			}
			return nil
		}
		whiteout := o.Overlay && strings.HasPrefix(base, whiteoutPrefix)
		if whiteout {
			base = strings.TrimPrefix(base, whiteoutPrefix)
		}
		path := filepath.Join(parent, base)
		if fi, err := os.Lstat(path); err == nil && !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(path); err != nil {
				return err
			}
		}
		if whiteout {
			if err := unix.Mknod(path, unix.S_IFCHR, 0); err != nil {
				return fmt.Errorf("whiteout %q: %w", rel, err)
			}
			return nil
		}
		if err := writeEntry(dir, path, hdr, body, buf); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeLink {
			return nil // shares the target's inode, metadata included
		}
		uid, gid := hdr.Uid, hdr.Gid
		if o.Owner != nil {
			uid, gid = o.Owner[0], o.Owner[1]
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if hdr.Typeflag != tar.TypeSymlink {
			// after chown, which clears setuid and setgid bits
			if err := os.Chmod(path, hdr.FileInfo().Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
		}
		for k, v := range hdr.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if err := unix.Lsetxattr(path, name, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
					return fmt.Errorf("layer entry %q: xattr %s: %w", hdr.Name, name, err)
				}
			}
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTimes{path, hdr.AccessTime, hdr.ModTime})
			return nil
		}
		if err := setTimes(path, hdr.AccessTime, hdr.ModTime); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// directory times last: creating entries inside them changes them
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := setTimes(dirs[i].path, dirs[i].atime, dirs[i].mtime); err != nil {
			return err
		}
	}
	return nil
}

// rename replaces the first component of rel by r[1] when it is r[0];
// other names are dropped ("").
func rename(rel string, r [2]string) string {
	first, rest, _ := strings.Cut(rel, string(filepath.Separator))
	if first != r[0] {
		return ""
	}
	return filepath.Join(r[1], rest)
}

// EachEntry calls fn for every entry of the tar stream r (what names the
// stream in errors), stopping when ctx is done or fn fails.
func EachEntry(ctx context.Context, r io.Reader, what string, fn func(hdr *tar.Header, body io.Reader) error) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return wrap(err, fmt.Sprintf("reading %s: %v", what, err))
		}
		if err := fn(hdr, tr); err != nil {
			return err
		}
	}
}

// EntryName cleans a tar entry name relative to the layer root and refuses
// one that climbs out of it ("../x", "/../x", "a/../../x").
func EntryName(name string) (string, error) {
	c := path.Clean(strings.TrimLeft(filepath.ToSlash(name), "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", wrap(nil, fmt.Sprintf("entry %q leaves the archive's root", name))
	}
	return filepath.FromSlash(c), nil
}

func writeEntry(root, path string, hdr *tar.Header, r io.Reader, buf []byte) error {
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	case tar.TypeReg:
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		// hide os.File's ReadFrom, which would allocate a buffer per file
		_, err = io.CopyBuffer(struct{ io.Writer }{f}, r, buf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case tar.TypeSymlink:
		return os.Symlink(hdr.Linkname, path)
	case tar.TypeLink:
		target, err := EntryName(hdr.Linkname)
		if err != nil {
			return err
		}
		parent, err := securejoin.SecureJoin(root, filepath.Dir(target))
		if err != nil {
			return err
		}
		// link(2) does not follow a symlink target: a link to a symlink is
		// a second name for the symlink, as in the tar.
		return os.Link(filepath.Join(parent, filepath.Base(target)), path)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(hdr.Mode & 0o7777)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		return unix.Mknod(path, mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	default:
		return nil // pax globals and the like carry no file
	}
	return nil
}

func setTimes(path string, atime, mtime time.Time) error {
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// Write archives the tree at src (a directory or a single file) as a tar
// stream whose entries are named under name ("" puts a directory's entries
// at the root): owners, modes, times, symlinks, hard links (by inode), device
// nodes and xattrs, in a stable order.
func Write(ctx context.Context, src, name string, w io.Writer) error {
	return WriteWith(ctx, src, name, w, WriteOptions{})
}

// WriteOptions shape WriteWith.
type WriteOptions struct {
	// Overlay reads src as an overlayfs upper directory: 0/0 character
	// devices become .wh. whiteout entries and opaque directories get a
	// .wh..wh..opq entry, the OCI layer form (container commit).
	Overlay bool
	// Skip leaves out the entry at rel (slash-separated, relative to src)
	// and, for a directory, everything under it.
	Skip func(rel string, fi fs.FileInfo) bool
}

// WriteWith is Write with options.
func WriteWith(ctx context.Context, src, name string, w io.Writer, o WriteOptions) error {
	tw := tar.NewWriter(w)
	inodes := map[uint64]string{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "." {
			if name == "" {
				return nil
			}
			rel = name
		} else if name != "" {
			rel = filepath.Join(name, rel)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if o.Skip != nil && o.Skip(filepath.ToSlash(rel), fi) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if o.Overlay && fi.Mode()&fs.ModeCharDevice != 0 {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Rdev == 0 {
				wh := filepath.ToSlash(filepath.Join(filepath.Dir(rel), whiteoutPrefix+filepath.Base(rel)))
				return tw.WriteHeader(&tar.Header{Name: wh, Typeflag: tar.TypeReg, Mode: 0o600, ModTime: fi.ModTime(), Format: tar.FormatPAX})
			}
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Uname, hdr.Gname = "", ""
		hdr.Format = tar.FormatPAX
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			if fi.Mode().IsRegular() && st.Nlink > 1 {
				if first, seen := inodes[st.Ino]; seen {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					inodes[st.Ino] = hdr.Name
				}
			}
		}
		for k, v := range listXattrs(p) {
			if strings.HasPrefix(k, "trusted.overlay.") {
				continue // overlayfs's own bookkeeping, meaningless in an archive
			}
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if o.Overlay && d.IsDir() {
			buf := make([]byte, 1)
			if n, err := unix.Lgetxattr(p, OpaqueXattr, buf); err == nil && n == 1 && buf[0] == 'y' {
				opq := &tar.Header{Name: hdr.Name + "/" + opaqueMarker, Typeflag: tar.TypeReg, Mode: 0o600, ModTime: fi.ModTime(), Format: tar.FormatPAX}
				if err := tw.WriteHeader(opq); err != nil {
					return err
				}
			}
		}
		if hdr.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func listXattrs(p string) map[string]string {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n <= 0 {
		return nil
	}
	out := map[string]string{}
	for _, name := range bytes.Split(buf[:n], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		val := make([]byte, 4096)
		if m, err := unix.Lgetxattr(p, string(name), val); err == nil {
			out[string(name)] = string(val[:m])
		}
	}
	return out
}
