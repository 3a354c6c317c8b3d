package build

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/runtime"
)

// buildContext is the build context as a build sees it: the directory
// walked once, .dockerignore applied, each file with a digest of what a
// step that reads it depends on.
type buildContext struct {
	dir string
	// files are the context's entries that .dockerignore leaves, by
	// slash-separated path relative to dir, in lexical order
	files []ctxFile
	// ignored are the topmost paths .dockerignore takes away
	ignored []string
	// all is the digest of every entry the context gives
	all digest.Digest
}

// ctxFile is one entry of the context: what a copy of it carries but
// its times (type and mode, owner, size, content, symlink target, device
// number), as BuildKit's content checksums leave times out.
type ctxFile struct {
	path     string
	mode     uint32 // st_mode: type and permissions
	uid, gid uint32
	size     int64 // regular files only
	rdev     uint64
	sum      string // a regular file's content's sha256, hex
	link     string // a symlink's target
}

func (f *ctxFile) isLink() bool { return f.mode&unix.S_IFMT == unix.S_IFLNK }

// hash writes the entry into h.
func (f *ctxFile) hash(h hash.Hash) {
	var b [32]byte
	binary.LittleEndian.PutUint32(b[0:], f.mode)
	binary.LittleEndian.PutUint32(b[4:], f.uid)
	binary.LittleEndian.PutUint32(b[8:], f.gid)
	binary.LittleEndian.PutUint64(b[12:], uint64(f.size))
	binary.LittleEndian.PutUint64(b[20:], f.rdev)
	h.Write([]byte(f.path))
	h.Write(b[:28])
	h.Write([]byte(f.sum))
	h.Write([]byte(f.link))
	h.Write([]byte{0})
}

// ignoreFile is the .dockerignore that applies: <Dockerfile>.dockerignore
// beside the Dockerfile when there is one (Docker prefers it), else the
// context's own.
func ignoreFile(o Options) string {
	if o.Dockerfile != "" && o.DockerfileInline == nil {
		p := o.Dockerfile + ".dockerignore"
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(o.ContextDir, ".dockerignore")
}

func readIgnore(p string) ([]string, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", p, err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("reading %s: %v", p, err))
	}
	return patterns, nil
}

// statEntry is what the digest cache keeps of a file: a file whose
// inode, size and times are unchanged is taken to hold what it held.
type statEntry struct {
	Ino   uint64
	Size  int64
	Mtime int64
	Ctime int64
	Sum   string
}

// walkContext walks dir once, leaving out what the patterns ignore, and
// gives each entry its digest; regular files' contents are read only
// when their stat differs from the one remembered in statFile.
func walkContext(dir string, patterns []string, statFile string) (*buildContext, error) {
	var pm *patternmatcher.PatternMatcher
	if len(patterns) > 0 {
		var err error
		if pm, err = patternmatcher.New(patterns); err != nil {
			return nil, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("invalid .dockerignore pattern: %v", err))
		}
	}
	old := readStats(statFile)
	w := &walker{root: dir, pm: pm, old: old, now: map[string]statEntry{}, bc: &buildContext{dir: dir}}
	if _, err := w.walk("", patternmatcher.MatchInfo{}); err != nil {
		return nil, err
	}
	if w.changed || len(w.now) != len(old) {
		writeStats(statFile, w.now)
	}
	h := sha256.New()
	for i := range w.bc.files {
		w.bc.files[i].hash(h)
	}
	w.bc.all = digest.NewDigest(digest.SHA256, h)
	return w.bc, nil
}

type walker struct {
	root    string
	pm      *patternmatcher.PatternMatcher
	old     map[string]statEntry
	now     map[string]statEntry
	changed bool
	bc      *buildContext
}

// readStats reads the digest cache: one line per regular file, its
// path, then inode, size, mtime, ctime (nanoseconds) and digest.
func readStats(p string) map[string]statEntry {
	out := map[string]statEntry{}
	data, err := os.ReadFile(p)
	if err != nil {
		return out
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		name, rest, ok := bytes.Cut(line, []byte{0})
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 5 {
			continue
		}
		var e statEntry
		var err1, err2, err3, err4 error
		e.Ino, err1 = strconv.ParseUint(string(f[0]), 10, 64)
		e.Size, err2 = strconv.ParseInt(string(f[1]), 10, 64)
		e.Mtime, err3 = strconv.ParseInt(string(f[2]), 10, 64)
		e.Ctime, err4 = strconv.ParseInt(string(f[3]), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue
		}
		e.Sum = string(f[4])
		out[string(name)] = e
	}
	return out
}

func writeStats(p string, stats map[string]statEntry) {
	var buf bytes.Buffer
	for name, e := range stats {
		fmt.Fprintf(&buf, "%s\x00%d %d %d %d %s\n", name, e.Ino, e.Size, e.Mtime, e.Ctime, e.Sum)
	}
	os.MkdirAll(filepath.Dir(p), 0o700)
	disk.WriteFile(p, buf.Bytes(), 0o600) // a cache: failing to keep it costs time only
}

// walk adds the entries of the directory rel (slash-separated, "" the
// root) and returns how many it kept. A directory .dockerignore takes is
// entered only when an exception may bring back something in it, as
// BuildKit's walker does; it is kept when something in it is.
func (w *walker) walk(rel string, parent patternmatcher.MatchInfo) (int, error) {
	d, err := os.Open(filepath.Join(w.root, filepath.FromSlash(rel)))
	if err != nil {
		return 0, fmt.Errorf("reading the build context: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, fmt.Errorf("reading the build context: %w", err)
	}
	slices.Sort(names)
	dirfd := int(d.Fd())
	kept := 0
	for _, name := range names {
		p := path.Join(rel, name)
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed while we walk
			}
			return 0, fmt.Errorf("reading the build context %q: %w", p, err)
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		var info patternmatcher.MatchInfo
		excluded := false
		if w.pm != nil {
			if excluded, info, err = w.pm.MatchesUsingParentResults(p, parent); err != nil {
				return 0, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("invalid .dockerignore pattern: %v", err))
			}
		}
		if excluded && !(isDir && w.exceptionUnder(p)) {
			w.bc.ignored = append(w.bc.ignored, p)
			continue
		}
		at := len(w.bc.files)
		if !excluded {
			if err := w.add(dirfd, name, p, &st); err != nil {
				return 0, err
			}
		}
		n := 0
		if isDir {
			if n, err = w.walk(p, info); err != nil {
				return 0, err
			}
		}
		switch {
		case !excluded:
			kept++
		case n > 0:
			// an ignored directory holding an exception: it is there for
			// what it holds
			if err := w.add(dirfd, name, p, &st); err != nil {
				return 0, err
			}
			f := w.bc.files[len(w.bc.files)-1]
			copy(w.bc.files[at+1:], w.bc.files[at:len(w.bc.files)-1])
			w.bc.files[at] = f
			kept++
		default:
			// nothing in it came back: it is ignored whole
			w.bc.ignored = dropUnder(w.bc.ignored, p)
			w.bc.ignored = append(w.bc.ignored, p)
		}
	}
	return kept, nil
}

// exceptionUnder says whether an exception pattern may match under the
// ignored directory p: BuildKit's walker enters it only then.
func (w *walker) exceptionUnder(p string) bool {
	if !w.pm.Exclusions() {
		return false
	}
	for _, pat := range w.pm.Patterns() {
		if pat.Exclusion() && strings.HasPrefix(pat.String()+"/", p+"/") {
			return true
		}
	}
	return false
}

func dropUnder(list []string, dir string) []string {
	out := list[:0]
	for _, p := range list {
		if !strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	return out
}

// add records the entry p (name in the directory dirfd) with what its
// digest covers.
func (w *walker) add(dirfd int, name, p string, st *unix.Stat_t) error {
	f := ctxFile{path: p, mode: st.Mode, uid: st.Uid, gid: st.Gid}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		f.size = st.Size
		sum, err := w.content(dirfd, name, p, st)
		if err != nil {
			return err
		}
		f.sum = sum
	case unix.S_IFLNK:
		buf := make([]byte, 4096)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return fmt.Errorf("reading the build context %q: %w", p, err)
		}
		f.link = string(buf[:n])
	case unix.S_IFCHR, unix.S_IFBLK:
		f.rdev = st.Rdev
	}
	w.bc.files = append(w.bc.files, f)
	return nil
}

// content is the sha256 of the regular file p, from the stat cache when
// its inode, size and times are as they were.
func (w *walker) content(dirfd int, name, p string, st *unix.Stat_t) (string, error) {
	e := statEntry{Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
	if o, ok := w.old[p]; ok && o.Ino == e.Ino && o.Size == e.Size && o.Mtime == e.Mtime && o.Ctime == e.Ctime && o.Sum != "" {
		w.now[p] = o
		return o.Sum, nil
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return "", fmt.Errorf("reading the build context %q: %w", p, err)
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading the build context %q: %w", p, err)
	}
	e.Sum = hex.EncodeToString(h.Sum(nil))
	w.now[p] = e
	w.changed = true
	return e.Sum, nil
}

// digestOf is the digest of the context entries a copy from src reads
// (src a cleaned absolute path in the context, perhaps with wildcards):
// src itself and what is under it. It errs on the side of more: a
// symlink on the way, which a copy may follow anywhere in the context,
// makes it the whole context's.
func (c *buildContext) digestOf(src string) digest.Digest {
	rel := strings.Trim(path.Clean("/"+src), "/")
	if rel == "" || rel == "." {
		return c.all
	}
	wild := strings.ContainsAny(rel, "*?[\\")
	parts := strings.Split(rel, "/")
	h := sha256.New()
	for i := range c.files {
		f := &c.files[i]
		var in bool
		if wild {
			fparts := strings.Split(f.path, "/")
			in = len(fparts) >= len(parts) && matchParts(parts, fparts[:len(parts)])
			// a symlink above where the pattern reaches may lead anywhere
			if f.isLink() && len(fparts) <= len(parts) && matchParts(parts[:len(fparts)], fparts) {
				return c.all
			}
		} else {
			in = f.path == rel || strings.HasPrefix(f.path, rel+"/")
			if f.isLink() && (in || strings.HasPrefix(rel, f.path+"/")) {
				return c.all
			}
		}
		if in {
			f.hash(h)
		}
	}
	return digest.NewDigest(digest.SHA256, h)
}

func matchParts(pattern, name []string) bool {
	for i := range pattern {
		if ok, err := path.Match(pattern[i], name[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

// view makes what COPY sees of the context: the directory itself when
// .dockerignore takes nothing away, else a read-only overlay of it under
// a layer of whiteouts for what is ignored, at target. The whiteouts'
// parent directories carry the context's own modes, owners and times,
// since the topmost layer's are what the overlay shows.
func (c *buildContext) view(layerDir, target string) (string, error) {
	if len(c.ignored) == 0 {
		return c.dir, nil
	}
	var parents []string
	for _, p := range c.ignored {
		wh := filepath.Join(layerDir, filepath.FromSlash(p))
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			parents = append(parents, d)
		}
		if err := os.MkdirAll(filepath.Dir(wh), 0o755); err != nil {
			return "", err
		}
		if err := unix.Mknod(wh, unix.S_IFCHR, 0); err != nil {
			return "", fmt.Errorf("making the build context's view: %w", err)
		}
	}
	// deepest first, so that setting a directory's times comes after
	// anything made in it
	sort.Slice(parents, func(i, j int) bool { return len(parents[i]) > len(parents[j]) })
	for _, d := range append(parents, ".") {
		fi, err := os.Lstat(filepath.Join(c.dir, filepath.FromSlash(d)))
		if err != nil {
			return "", fmt.Errorf("reading the build context: %w", err)
		}
		p := filepath.Join(layerDir, filepath.FromSlash(d))
		os.Chmod(p, fi.Mode().Perm()|fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			os.Lchown(p, int(st.Uid), int(st.Gid))
			os.Chtimes(p, fi.ModTime(), fi.ModTime())
		}
	}
	if err := runtime.MountLowers([]string{layerDir, c.dir}, target); err != nil {
		return "", err
	}
	return target, nil
}
