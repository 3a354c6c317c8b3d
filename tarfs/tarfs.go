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
	"time"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errclass"
)

// ErrInvalid: the stream is not a tar, or names a path outside its root.
var ErrInvalid = errclass.Sentinel(errclass.ErrInvalid, "invalid archive")

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
	root, err := OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return ExtractIn(ctx, r, root, "/", o)
}

// ExtractIn is Extract into the directory under inside root, whose files
// may change while it works (a running container's): every step is taken
// through descriptors resolved inside root (see root.go), so nothing the
// root's owner swaps in can take an entry, or a chmod, outside it.
func ExtractIn(ctx context.Context, r io.Reader, root *os.File, under string, o Options) error {
	type dirTimes struct {
		path         string
		atime, mtime time.Time
	}
	var dirs []dirTimes
	under = filepath.Clean("/" + under)
	ps := parents{root: root}
	defer ps.close()
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
		fail := func(err error) error { return fmt.Errorf("layer entry %q: %w", hdr.Name, err) }
		dir := filepath.Join(under, filepath.Dir(rel))
		parent, err := ps.get(dir)
		if err != nil {
			return fail(err)
		}
		pfd := int(parent.Fd())
		base := filepath.Base(rel)
		if o.Overlay && base == opaqueMarker {
			if err := unix.Setxattr(procPath(parent), OpaqueXattr, []byte("y"), 0); err != nil {
				return fmt.Errorf("marking %q opaque: %w", filepath.Dir(rel), err)
			}
			return nil
		}
		whiteout := o.Overlay && strings.HasPrefix(base, whiteoutPrefix)
		if whiteout {
			base = strings.TrimPrefix(base, whiteoutPrefix)
		}
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil &&
			!(st.Mode&unix.S_IFMT == unix.S_IFDIR && hdr.Typeflag == tar.TypeDir) {
			ps.forget(filepath.Join(dir, base))
			if err := removeAt(parent, base); err != nil {
				return fail(err)
			}
		}
		if whiteout {
			if err := unix.Mknodat(pfd, base, unix.S_IFCHR, 0); err != nil {
				return fmt.Errorf("whiteout %q: %w", rel, err)
			}
			return nil
		}
		if err := writeEntry(&ps, under, parent, base, hdr, body, buf); err != nil {
			return fail(err)
		}
		if hdr.Typeflag == tar.TypeLink || !carriesFile(hdr.Typeflag) {
			return nil // shares the target's inode, metadata included
		}
		leaf, err := openAt(parent, base, unix.O_PATH)
		if err != nil {
			return fail(err)
		}
		defer leaf.Close()
		var lst unix.Stat_t
		if err := unix.Fstat(int(leaf.Fd()), &lst); err != nil {
			return fail(err)
		}
		symlink := lst.Mode&unix.S_IFMT == unix.S_IFLNK
		if symlink != (hdr.Typeflag == tar.TypeSymlink) {
			return fail(fmt.Errorf("%s changed while it was written", filepath.Join(dir, base)))
		}
		uid, gid := hdr.Uid, hdr.Gid
		if o.Owner != nil {
			uid, gid = o.Owner[0], o.Owner[1]
		}
		if err := unix.Fchownat(int(leaf.Fd()), "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fail(err)
		}
		if !symlink {
			// after chown, which clears setuid and setgid bits
			mode := uint32(hdr.FileInfo().Mode().Perm())
			m := hdr.FileInfo().Mode()
			if m&os.ModeSetuid != 0 {
				mode |= unix.S_ISUID
			}
			if m&os.ModeSetgid != 0 {
				mode |= unix.S_ISGID
			}
			if m&os.ModeSticky != 0 {
				mode |= unix.S_ISVTX
			}
			if err := unix.Fchmodat(unix.AT_FDCWD, procPath(leaf), mode, 0); err != nil {
				return fail(err)
			}
		}
		for k, v := range hdr.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				var err error
				if symlink {
					err = unix.Lsetxattr(procPath(parent)+"/"+base, name, []byte(v), 0)
				} else {
					err = unix.Setxattr(procPath(leaf), name, []byte(v), 0)
				}
				if err != nil && !errors.Is(err, unix.ENOTSUP) {
					return fail(fmt.Errorf("xattr %s: %w", name, err))
				}
			}
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTimes{filepath.Join(dir, base), hdr.AccessTime, hdr.ModTime})
			return nil
		}
		if err := setTimes(pfd, base, hdr.AccessTime, hdr.ModTime); err != nil {
			return fail(err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// directory times last: creating entries inside them changes them
	for i := len(dirs) - 1; i >= 0; i-- {
		d, err := openIn(root, dirs[i].path, false)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err = unix.Fstat(int(d.Fd()), &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = setTimes(unix.AT_FDCWD, procPath(d), dirs[i].atime, dirs[i].mtime)
		}
		d.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// carriesFile reports whether an entry of type t makes a file.
func carriesFile(t byte) bool {
	switch t {
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return true
	}
	return false
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

// writeEntry makes the file of hdr as base in parent; a hard link's target
// is resolved in the extraction's root (under, inside ps's root).
func writeEntry(ps *parents, under string, parent *os.File, base string, hdr *tar.Header, r io.Reader, buf []byte) error {
	pfd := int(parent.Fd())
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
	case tar.TypeReg:
		f, err := openAt(parent, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY)
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
		return unix.Symlinkat(hdr.Linkname, pfd, base)
	case tar.TypeLink:
		target, err := EntryName(hdr.Linkname)
		if err != nil {
			return err
		}
		tdir, err := ps.get(filepath.Join(under, filepath.Dir(target)))
		if err != nil {
			return err
		}
		// link(2) does not follow a symlink target: a link to a symlink is
		// a second name for the symlink, as in the tar.
		return unix.Linkat(int(tdir.Fd()), filepath.Base(target), pfd, base, 0)
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
		return unix.Mknodat(pfd, base, mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	default:
		return nil // pax globals and the like carry no file
	}
	return nil
}

// setTimes sets the times of name in dir (a descriptor, or AT_FDCWD with a
// path), not following a symlink there.
func setTimes(dir int, name string, atime, mtime time.Time) error {
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	flags := unix.AT_SYMLINK_NOFOLLOW
	if dir == unix.AT_FDCWD {
		flags = 0 // a /proc/self/fd path, which must be followed to its file
	}
	return unix.UtimesNanoAt(dir, name, ts, flags)
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
	// Xattr, when set, says which extended attributes are written;
	// nil writes all of them.
	Xattr func(name string) bool
	// ModTimeOnly writes no access and change times, only the
	// modification time, as Docker's and containerd's archive writers
	// do: the same files then make the same archive however often they
	// are read or linked (an image layer's digest).
	ModTimeOnly bool
}

// WriteWith is Write with options.
func WriteWith(ctx context.Context, src, name string, w io.Writer, o WriteOptions) error {
	src = filepath.Clean(src)
	root, err := OpenRoot(filepath.Dir(src))
	if err != nil {
		return err
	}
	defer root.Close()
	return WriteIn(ctx, root, filepath.Base(src), false, name, w, o)
}

// WriteIn is WriteWith of the tree at src inside root, whose files may
// change while it works (a running container's): src is resolved inside
// root (its last element followed there with follow), and the tree is
// walked through descriptors, each name opened in its directory without
// following it, so a symlink swapped in is archived as a symlink, never
// followed out of root.
func WriteIn(ctx context.Context, root *os.File, src string, follow bool, name string, w io.Writer, o WriteOptions) error {
	h, err := openIn(root, src, follow)
	if err != nil {
		return err
	}
	wr := walker{ctx: ctx, tw: tar.NewWriter(w), o: o, inodes: map[uint64]string{}}
	if err := wr.walk(h, nil, "", name); err != nil {
		return err
	}
	return wr.tw.Close()
}

// walker archives a tree through descriptors.
type walker struct {
	ctx    context.Context
	tw     *tar.Writer
	o      WriteOptions
	inodes map[uint64]string
}

// walk archives h (whose name in its directory dir is base; dir is nil for
// the tree's top) as rel, then, for a directory, what is in it. It closes h.
func (wr *walker) walk(h *os.File, dir *os.File, base, rel string) error {
	defer h.Close()
	if err := wr.ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return err
	}
	kind := st.Mode & unix.S_IFMT
	if kind == unix.S_IFSOCK {
		return nil // a socket is no file to copy, as in Docker's archives
	}
	top := dir == nil
	if !(top && rel == "") {
		fi := statInfo{name: filepath.Base(rel), st: st}
		if wr.o.Skip != nil && wr.o.Skip(filepath.ToSlash(rel), fi) {
			return nil
		}
		if err := wr.entry(h, dir, base, rel, st); err != nil {
			return err
		}
	}
	if kind != unix.S_IFDIR {
		return nil
	}
	names, err := readDir(h)
	if err != nil {
		return err
	}
	for _, n := range names {
		c, err := openAt(h, n, unix.O_PATH)
		if errors.Is(err, unix.ENOENT) {
			continue // gone meanwhile
		}
		if err != nil {
			return err
		}
		if err := wr.walk(c, h, n, filepath.Join(rel, n)); err != nil {
			return err
		}
	}
	return nil
}

// entry writes the header (and, for a regular file, the content) of h.
func (wr *walker) entry(h, dir *os.File, base, rel string, st unix.Stat_t) error {
	kind := st.Mode & unix.S_IFMT
	mtime := time.Unix(st.Mtim.Unix())
	if wr.o.Overlay && kind == unix.S_IFCHR && st.Rdev == 0 {
		wh := filepath.ToSlash(filepath.Join(filepath.Dir(rel), whiteoutPrefix+filepath.Base(rel)))
		return wr.tw.WriteHeader(&tar.Header{Name: wh, Typeflag: tar.TypeReg, Mode: 0o600, ModTime: mtime, Format: tar.FormatPAX})
	}
	hdr := &tar.Header{
		Name: filepath.ToSlash(rel), Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: mtime, AccessTime: time.Unix(st.Atim.Unix()), ChangeTime: time.Unix(st.Ctim.Unix()), Format: tar.FormatPAX,
	}
	if wr.o.ModTimeOnly {
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	}
	switch kind {
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if st.Nlink > 1 {
			if first, seen := wr.inodes[st.Ino]; seen {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				wr.inodes[st.Ino] = hdr.Name
			}
		}
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(int(h.Fd()), "", buf)
		if err != nil {
			return err
		}
		hdr.Linkname = string(buf[:n])
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if kind == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	}
	xattrPath := procPath(h)
	if kind == unix.S_IFLNK {
		xattrPath = "" // a symlink's own xattrs need its name: read in its directory
		if dir != nil {
			xattrPath = procPath(dir) + "/" + base
		}
	}
	for k, v := range listXattrs(xattrPath, kind != unix.S_IFLNK) {
		if strings.HasPrefix(k, "trusted.overlay.") {
			continue // overlayfs's own bookkeeping, meaningless in an archive
		}
		if wr.o.Xattr != nil && !wr.o.Xattr(k) {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = v
	}
	if err := wr.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if wr.o.Overlay && kind == unix.S_IFDIR {
		buf := make([]byte, 1)
		if n, err := unix.Getxattr(procPath(h), OpaqueXattr, buf); err == nil && n == 1 && buf[0] == 'y' {
			opq := &tar.Header{Name: hdr.Name + "/" + opaqueMarker, Typeflag: tar.TypeReg, Mode: 0o600, ModTime: mtime, Format: tar.FormatPAX}
			if err := wr.tw.WriteHeader(opq); err != nil {
				return err
			}
		}
	}
	if hdr.Typeflag == tar.TypeReg {
		f, err := pathrs.Reopen(h, unix.O_RDONLY)
		if err != nil {
			return err
		}
		_, err = io.Copy(wr.tw, io.LimitReader(f, hdr.Size))
		f.Close()
		return err
	}
	return nil
}

// statInfo is a file's fs.FileInfo from its stat, for WriteOptions.Skip.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (i statInfo) Name() string       { return i.name }
func (i statInfo) Size() int64        { return i.st.Size }
func (i statInfo) ModTime() time.Time { return time.Unix(i.st.Mtim.Unix()) }
func (i statInfo) IsDir() bool        { return i.st.Mode&unix.S_IFMT == unix.S_IFDIR }
func (i statInfo) Sys() any           { return &i.st }
func (i statInfo) Mode() fs.FileMode {
	m := fs.FileMode(i.st.Mode & 0o777)
	switch i.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	}
	return m
}

// listXattrs reads the extended attributes of p, following a symlink
// there with follow.
func listXattrs(p string, follow bool) map[string]string {
	if p == "" {
		return nil
	}
	list, get := unix.Llistxattr, unix.Lgetxattr
	if follow {
		list, get = unix.Listxattr, unix.Getxattr
	}
	buf := make([]byte, 4096)
	n, err := list(p, buf)
	if err != nil || n <= 0 {
		return nil
	}
	out := map[string]string{}
	for _, name := range bytes.Split(buf[:n], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		val := make([]byte, 4096)
		if m, err := get(p, string(name), val); err == nil {
			out[string(name)] = string(val[:m])
		}
	}
	return out
}
