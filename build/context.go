package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
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

// ctxFile is one entry of the context.
type ctxFile struct {
	path string
	// sum covers what a copy of the entry carries but its times: type,
	// mode, owner, size, symlink target and content
	sum  string
	link bool
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
	Ino   uint64 `json:"i"`
	Size  int64  `json:"s"`
	Mtime int64  `json:"m"`
	Ctime int64  `json:"c"`
	Sum   string `json:"d"`
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
	old := map[string]statEntry{}
	if data, err := os.ReadFile(statFile); err == nil {
		json.Unmarshal(data, &old) // a damaged cache is an empty one
	}
	w := &walker{root: dir, pm: pm, old: old, now: map[string]statEntry{}, bc: &buildContext{dir: dir}}
	if _, err := w.walk("", patternmatcher.MatchInfo{}); err != nil {
		return nil, err
	}
	if w.changed || len(w.now) != len(old) {
		if data, err := json.Marshal(w.now); err == nil {
			os.MkdirAll(filepath.Dir(statFile), 0o700)
			disk.WriteFile(statFile, data, 0o600) // a cache: failing to keep it costs time only
		}
	}
	h := sha256.New()
	for _, f := range w.bc.files {
		fmt.Fprintf(h, "%s\x00%s\x00", f.path, f.sum)
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

// walk adds the entries of the directory rel (slash-separated, "" the
// root) and returns how many it kept. A directory .dockerignore takes is
// entered only when an exception may bring back something in it, as
// BuildKit's walker does; it is kept when something in it is.
func (w *walker) walk(rel string, parent patternmatcher.MatchInfo) (int, error) {
	entries, err := os.ReadDir(filepath.Join(w.root, filepath.FromSlash(rel)))
	if err != nil {
		return 0, fmt.Errorf("reading the build context: %w", err)
	}
	kept := 0
	for _, e := range entries {
		p := path.Join(rel, e.Name())
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed while we walk
			}
			return 0, fmt.Errorf("reading the build context: %w", err)
		}
		var info patternmatcher.MatchInfo
		excluded := false
		if w.pm != nil {
			if excluded, info, err = w.pm.MatchesUsingParentResults(p, parent); err != nil {
				return 0, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("invalid .dockerignore pattern: %v", err))
			}
		}
		if excluded && !(fi.IsDir() && w.exceptionUnder(p)) {
			w.bc.ignored = append(w.bc.ignored, p)
			continue
		}
		at := len(w.bc.files)
		if !excluded {
			if err := w.add(p, fi); err != nil {
				return 0, err
			}
		}
		n := 0
		if fi.IsDir() {
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
			if err := w.add(p, fi); err != nil {
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

// add records the entry p with its digest.
func (w *walker) add(p string, fi fs.FileInfo) error {
	st, _ := fi.Sys().(*syscall.Stat_t)
	var uid, gid uint32
	var rdev uint64
	if st != nil {
		uid, gid, rdev = st.Uid, st.Gid, st.Rdev
	}
	sum := fmt.Sprintf("%s %d:%d %d", fi.Mode(), uid, gid, fi.Size())
	switch {
	case fi.Mode().IsRegular():
		content, err := w.content(p, fi, st)
		if err != nil {
			return err
		}
		sum += " " + content
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(filepath.Join(w.root, filepath.FromSlash(p)))
		if err != nil {
			return fmt.Errorf("reading the build context: %w", err)
		}
		sum += " -> " + target
	case fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		sum += fmt.Sprintf(" dev %d", rdev)
	}
	w.bc.files = append(w.bc.files, ctxFile{path: p, sum: sum, link: fi.Mode()&fs.ModeSymlink != 0})
	return nil
}

// content is the sha256 of the regular file p, from the stat cache when
// its inode, size and times are as they were.
func (w *walker) content(p string, fi fs.FileInfo, st *syscall.Stat_t) (string, error) {
	var e statEntry
	if st != nil {
		e = statEntry{Ino: st.Ino, Size: fi.Size(), Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
		if o, ok := w.old[p]; ok && o.Ino == e.Ino && o.Size == e.Size && o.Mtime == e.Mtime && o.Ctime == e.Ctime && o.Sum != "" {
			w.now[p] = o
			return o.Sum, nil
		}
	}
	f, err := os.Open(filepath.Join(w.root, filepath.FromSlash(p)))
	if err != nil {
		return "", fmt.Errorf("reading the build context: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading the build context %q: %w", p, err)
	}
	e.Sum = hex.EncodeToString(h.Sum(nil))
	if st != nil {
		w.now[p] = e
		w.changed = true
	}
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
	for _, f := range c.files {
		fparts := strings.Split(f.path, "/")
		var in bool
		if wild {
			in = len(fparts) >= len(parts) && matchParts(parts, fparts[:len(parts)])
			// a symlink above where the pattern reaches may lead anywhere
			if f.link && len(fparts) <= len(parts) && matchParts(parts[:len(fparts)], fparts) {
				return c.all
			}
		} else {
			in = f.path == rel || strings.HasPrefix(f.path, rel+"/")
			if f.link && (in || strings.HasPrefix(rel, f.path+"/")) {
				return c.all
			}
		}
		if in {
			fmt.Fprintf(h, "%s\x00%s\x00", f.path, f.sum)
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
