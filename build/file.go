package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/sys/user"
	"github.com/tonistiigi/fsutil"
	copy "github.com/tonistiigi/fsutil/copy"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/runtime"
)

// fileMount is the writable filesystem one chain of a file operation's
// actions works on: an overlay of the parent's layers with an upper
// directory of its own, mounted at target.
type fileMount struct {
	parent *fsState
	upper  string
	target string
}

// file executes a file operation (COPY, ADD of local files, WORKDIR's
// mkdir, ...): its actions in order, each on an overlay of its input,
// so that what an action removes becomes a whiteout in the layer. The
// actions' semantics are BuildKit's (solver/llbsolver/file), with
// tonistiigi/fsutil's copy.
func (b *builder) file(ctx context.Context, f *pb.FileOp, inputs []*fsState, name string) (outs []*fsState, err error) {
	step := b.progress.start(name)
	defer func() {
		if err != nil {
			step.fail(err)
		} else {
			step.done()
		}
	}()
	var mounted []string
	defer func() {
		for i := len(mounted) - 1; i >= 0; i-- {
			if uerr := runtime.Unmount(mounted[i]); uerr != nil && err == nil {
				err = uerr
			}
		}
	}()
	mount := func(lowers []string, rw bool) (*fileMount, error) {
		m := &fileMount{}
		dir, err := b.newDir("file")
		if err != nil {
			return nil, err
		}
		m.target = filepath.Join(dir, "merged")
		if rw {
			m.upper = filepath.Join(dir, "upper")
			err = runtime.MountRootfs(runtime.Rootfs{Lowers: lowers, Upper: m.upper, Work: filepath.Join(dir, "work")}, m.target)
		} else {
			err = runtime.MountLowers(lowers, m.target)
		}
		if err != nil {
			return nil, err
		}
		mounted = append(mounted, m.target)
		return m, nil
	}
	// the actions' results, by action index
	results := make([]*fileMount, len(f.Actions))
	// dest is the writable mount an action's input names: a new overlay
	// over an input (or scratch), or an earlier action's
	dest := func(i int64) (*fileMount, error) {
		var parent *fsState
		switch {
		case i == int64(pb.Empty):
			parent = &fsState{}
		case i < int64(len(inputs)):
			parent = inputs[i]
			if parent.plain != "" {
				return nil, unsupported("a file action writing into the build context", name)
			}
		case int(i)-len(inputs) < len(results) && results[int(i)-len(inputs)] != nil:
			return results[int(i)-len(inputs)], nil
		default:
			return nil, errclass.New(ErrInvalid, "%s: a file action names input %d, which is not there", name, i)
		}
		lowers, err := b.lowers(parent)
		if err != nil {
			return nil, err
		}
		m, err := mount(lowers, true)
		if err != nil {
			return nil, err
		}
		m.parent = parent
		return m, nil
	}
	// source is the directory an action reads from: the context itself,
	// a read-only view of another state, or an earlier action's mount
	// (and whether that is the context)
	source := func(i int64) (string, bool, error) {
		switch {
		case i == int64(pb.Empty):
			d, err := b.newDir("empty")
			return d, false, err
		case i < int64(len(inputs)):
			st := inputs[i]
			if st.plain != "" {
				return st.plain, true, nil
			}
			lowers, err := b.lowers(st)
			if err != nil {
				return "", false, err
			}
			m, err := mount(lowers, false)
			if err != nil {
				return "", false, err
			}
			return m.target, false, nil
		case int(i)-len(inputs) < len(results) && results[int(i)-len(inputs)] != nil:
			return results[int(i)-len(inputs)].target, false, nil
		}
		return "", false, errclass.New(ErrInvalid, "%s: a file action names input %d, which is not there", name, i)
	}
	outputs := map[int64]*fileMount{}
	for i, a := range f.Actions {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := dest(a.Input)
		if err != nil {
			return nil, err
		}
		var aerr error
		switch act := a.Action.(type) {
		case *pb.FileAction_Copy:
			src, fromContext, err := source(a.SecondaryInput)
			if err != nil {
				return nil, err
			}
			u, err := chownUser(m.target, act.Copy.Owner)
			if err != nil {
				return nil, err
			}
			aerr = docopy(ctx, src, m.target, act.Copy, u, fromContext)
		case *pb.FileAction_Mkdir:
			u, err := chownUser(m.target, act.Mkdir.Owner)
			if err != nil {
				return nil, err
			}
			aerr = mkdir(m.target, act.Mkdir, u)
		case *pb.FileAction_Mkfile:
			u, err := chownUser(m.target, act.Mkfile.Owner)
			if err != nil {
				return nil, err
			}
			aerr = mkfile(m.target, act.Mkfile, u)
		case *pb.FileAction_Rm:
			aerr = rm(m.target, act.Rm)
		case *pb.FileAction_Symlink:
			u, err := chownUser(m.target, act.Symlink.Owner)
			if err != nil {
				return nil, err
			}
			aerr = symlink(m.target, act.Symlink, u)
		default:
			return nil, unsupported(fmt.Sprintf("file action %T", a.Action), name)
		}
		if aerr != nil {
			return nil, errclass.Wrap(ErrFailed, aerr, fmt.Sprintf("%s: %v", name, aerr))
		}
		results[i] = m
		if a.Output >= 0 {
			outputs[a.Output] = m
		}
	}
	outs = make([]*fsState, len(outputs))
	for i := range outs {
		m, ok := outputs[int64(i)]
		if !ok {
			return nil, errclass.New(ErrInvalid, "%s: the file operation has no output %d", name, i)
		}
		outs[i] = with(m.parent, m.upper)
	}
	return outs, nil
}

// chownUser is the owner an action gives what it makes (--chown), as
// BuildKit's file operation resolves it (solver/llbsolver/ops.readUser):
// a user by ID is that ID for the group too; a user by name takes the
// uid and primary gid of root's /etc/passwd, a group by name the gid of
// its /etc/group, and a name either file lacks (or a file that is not
// there) leaves 0. nil (no --chown) keeps copied files' owners and
// makes new ones root's.
func chownUser(root string, o *pb.ChownOpt) (*copy.User, error) {
	if o == nil {
		return nil, nil
	}
	var u copy.User
	if o.User != nil {
		switch v := o.User.User.(type) {
		case *pb.UserOpt_ByID:
			u.UID, u.GID = int(v.ByID), int(v.ByID)
		case *pb.UserOpt_ByName:
			f, err := openUserFile(root, "/etc/passwd")
			if err != nil {
				return nil, err
			}
			if f != nil {
				defer f.Close()
				users, err := user.ParsePasswdFilter(f, func(e user.User) bool { return e.Name == v.ByName.Name })
				if err != nil {
					return nil, fmt.Errorf("reading /etc/passwd: %w", err)
				}
				if len(users) > 0 {
					u.UID, u.GID = users[0].Uid, users[0].Gid
				}
			}
		}
	}
	if o.Group != nil {
		switch v := o.Group.User.(type) {
		case *pb.UserOpt_ByID:
			u.GID = int(v.ByID)
		case *pb.UserOpt_ByName:
			f, err := openUserFile(root, "/etc/group")
			if err != nil {
				return nil, err
			}
			if f != nil {
				defer f.Close()
				groups, err := user.ParseGroupFilter(f, func(g user.Group) bool { return g.Name == v.ByName.Name })
				if err != nil {
					return nil, fmt.Errorf("reading /etc/group: %w", err)
				}
				if len(groups) > 0 {
					u.GID = groups[0].Gid
				}
			}
		}
	}
	return &u, nil
}

// openUserFile opens root's /etc/passwd or /etc/group, if it is a
// regular file there; nil when it is not there at all.
func openUserFile(root, name string) (*os.File, error) {
	p, err := rootPath(root, name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return f, nil
}

// What follows is BuildKit's file backend (solver/llbsolver/file,
// Apache-2.0) on plain directories, without its snapshot mounts and
// identity mappings.

func timestampToTime(ts int64) *time.Time {
	if ts == -1 {
		return nil
	}
	tm := time.Unix(ts/1e9, ts%1e9)
	return &tm
}

func chowner(u *copy.User) copy.Chowner {
	if u == nil {
		return func(old *copy.User) (*copy.User, error) { return old, nil }
	}
	c := *u
	return func(*copy.User) (*copy.User, error) { return &c, nil }
}

func rootPath(root, p string) (string, error) { return securejoin.SecureJoin(root, p) }

func trimRoot(err error, roots ...string) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		for _, r := range roots {
			pe.Path = strings.TrimPrefix(pe.Path, r)
		}
	}
	return err
}

func mkdir(d string, a *pb.FileActionMkDir, u *copy.User) (err error) {
	defer func() { err = trimRoot(err, d) }()
	p, err := rootPath(d, a.Path)
	if err != nil {
		return err
	}
	ch := chowner(u)
	if a.MakeParents {
		_, err := copy.MkdirAll(p, os.FileMode(a.Mode)&0o777, ch, timestampToTime(a.Timestamp))
		return err
	}
	if err := os.Mkdir(p, os.FileMode(a.Mode)&0o777); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	if err := copy.Chown(p, nil, ch); err != nil {
		return err
	}
	return copy.Utimes(p, timestampToTime(a.Timestamp))
}

func symlink(d string, a *pb.FileActionSymlink, u *copy.User) (err error) {
	defer func() { err = trimRoot(err, d) }()
	p, err := rootPath(d, filepath.Join("/", a.Newpath))
	if err != nil {
		return err
	}
	if err := os.Symlink(a.Oldpath, p); err != nil {
		return err
	}
	if err := copy.Chown(p, nil, chowner(u)); err != nil {
		return err
	}
	return copy.Utimes(p, timestampToTime(a.Timestamp))
}

func mkfile(d string, a *pb.FileActionMkFile, u *copy.User) (err error) {
	defer func() { err = trimRoot(err, d) }()
	target := filepath.Join("/", a.Path)
	p, err := rootPath(d, target)
	if err != nil {
		return err
	}
	if p == d {
		return &os.PathError{Op: "mkfile", Path: target, Err: syscall.EISDIR}
	}
	// written beside and renamed: a device node left at p is replaced,
	// never written through
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-mkfile")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(a.Data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, os.FileMode(a.Mode)&0o777); err != nil {
		return err
	}
	if err := copy.Chown(tmp, nil, chowner(u)); err != nil {
		return err
	}
	if tm := timestampToTime(a.Timestamp); tm != nil {
		if err := os.Chtimes(tmp, *tm, *tm); err != nil {
			return err
		}
	}
	return os.Rename(tmp, p)
}

func rm(d string, a *pb.FileActionRm) (err error) {
	defer func() { err = trimRoot(err, d) }()
	if a.AllowWildcard {
		m, err := copy.ResolveWildcards(d, cleanPath(a.Path), false)
		if err != nil {
			return err
		}
		for _, s := range m {
			if err := rmPath(d, s, a.AllowNotFound); err != nil {
				return err
			}
		}
		return nil
	}
	return rmPath(d, a.Path, a.AllowNotFound)
}

func rmPath(root, src string, allowNotFound bool) error {
	src = filepath.Join("/", src)
	dir, base := filepath.Split(src)
	if base == "" {
		return errors.New("rm: invalid empty path")
	}
	dir, err := rootPath(root, dir)
	if err != nil {
		return err
	}
	p := filepath.Join(dir, base)
	if !allowNotFound {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return os.RemoveAll(p)
}

// docopy is a copy action. fromContext says src is the build context,
// whose files reach BuildKit through its file transfer: that makes them
// root's (the client resets every owner to 0:0), and it sets their
// extended attributes before their owner, so that chown(2) drops a
// file capability (security.capability). docopy does both.
func docopy(ctx context.Context, src, dest string, a *pb.FileActionCopy, u *copy.User, fromContext bool) (err error) {
	copyUser := u
	if fromContext && copyUser == nil {
		copyUser = &copy.User{}
	}
	srcPath, destPath := cleanPath(a.Src), cleanPath(a.Dest)
	if !a.CreateDestPath {
		p, err := rootPath(dest, filepath.Join("/", a.Dest))
		if err != nil {
			return err
		}
		if _, err := os.Lstat(filepath.Dir(p)); err != nil {
			return fmt.Errorf("failed to stat %s: %w", a.Dest, err)
		}
	}
	defer func() { err = trimRoot(err, src, dest) }()
	opt := []copy.Opt{
		func(ci *copy.CopyInfo) {
			ci.IncludePatterns = a.IncludePatterns
			ci.ExcludePatterns = a.ExcludePatterns
			ci.Chown = chowner(copyUser)
			ci.Utime = timestampToTime(a.Timestamp)
			if a.ModeStr != "" {
				ci.ModeStr = a.ModeStr
			} else if m := int(a.Mode); m != -1 {
				ci.Mode = &m
			}
			ci.CopyDirContents = a.DirCopyContents
			ci.FollowLinks = a.FollowSymlink
			ci.AlwaysReplaceExistingDestPaths = a.AlwaysReplaceExistingDestPaths
		},
		// an xattr the destination cannot take is not the copy's failure
		copy.WithXAttrErrorHandler(func(dst, src, key string, err error) error { return nil }),
	}
	if fromContext {
		opt = append(opt, copy.WithChangeNotifier(func(_ fsutil.ChangeKind, p string, fi os.FileInfo, _ error) error {
			if fi == nil || fi.Mode()&os.ModeSymlink != 0 {
				return nil
			}
			// p is where the copier wrote, in dest already: joined, not
			// resolved again
			target := filepath.Join(dest, p)
			if err := unix.Lremovexattr(target, "security.capability"); err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.ENOTSUP) {
				return fmt.Errorf("removing the capability of %s: %w", p, err)
			}
			return nil
		}))
	}
	// BuildKit finds a missing path when it computes the step's cache
	// key, whatever AllowEmptyWildcard says
	if !strings.ContainsAny(srcPath, "*?[\\") {
		p, err := rootPath(src, srcPath)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%q: not found", srcPath)
		}
	}
	m := []string{srcPath}
	if a.AllowWildcard {
		if m, err = copy.ResolveWildcards(src, srcPath, a.FollowSymlink); err != nil {
			return err
		}
		if len(m) == 0 {
			if a.AllowEmptyWildcard {
				return nil
			}
			return fmt.Errorf("%s not found", srcPath)
		}
	}
	for _, s := range m {
		if a.AttemptUnpackDockerCompatibility {
			if ok, err := unpack(ctx, src, s, dest, destPath, u, timestampToTime(a.Timestamp)); err != nil {
				return err
			} else if ok {
				continue
			}
		}
		if err := copy.Copy(ctx, src, s, dest, destPath, opt...); err != nil {
			return err
		}
	}
	return nil
}

func cleanPath(s string) string {
	s2 := filepath.Join("/", s)
	if strings.HasSuffix(s, "/.") {
		if s2 != "/" {
			s2 += "/"
		}
		s2 += "."
	} else if strings.HasSuffix(s, "/") && s2 != "/" {
		s2 += "/"
	}
	return s2
}
