package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/tarfs"
)

// runDir is where libcontainer keeps the state of a build's steps: under
// /run like a container's, one directory per state root, apart from the
// containers' so that no container command ever sees a step.
func runDir(root string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Join("/run/berth", hex.EncodeToString(sum[:6]), "build")
}

// mountStubs are the files a step's container has mounted over that
// BuildKit removes again when the parent lacked them and they are still
// empty (executor.MountStubsCleaner): /etc/resolv.conf and /etc/hosts.
// The directories /proc, /dev and /sys that the runtime makes stay in
// the layer, as they stay in BuildKit's.
var mountStubs = []string{"etc/resolv.conf", "etc/hosts"}

// exec executes a RUN: its command in berth's runtime, on an overlay of
// the parent's layers, with no network. Its output is the parent plus
// the overlay's upper directory.
func (b *builder) exec(ctx context.Context, e *pb.ExecOp, inputs []*fsState, name string) ([]*fsState, error) {
	meta := e.GetMeta()
	var root *pb.Mount
	for _, m := range e.Mounts {
		if m.Dest == pb.RootMount && m.MountType == pb.MountType_BIND {
			root = m
			continue
		}
		return nil, unsupported(fmt.Sprintf("exec with a %s mount at %s (RUN --mount)", strings.ToLower(m.MountType.String()), m.Dest), name)
	}
	if root == nil || int(root.Input) >= len(inputs) || root.Output != 0 {
		return nil, unsupported("exec without a root filesystem", name)
	}
	switch e.Network {
	case pb.NetMode_UNSET, pb.NetMode_NONE:
	default:
		return nil, unsupported("exec with network "+strings.ToLower(e.Network.String())+" (RUN --network)", name)
	}
	if e.Security != pb.SecurityMode_SANDBOX {
		return nil, unsupported("exec in insecure mode (RUN --security=insecure)", name)
	}
	if len(e.Secretenv) > 0 || len(e.CdiDevices) > 0 {
		return nil, unsupported("exec with secrets or devices", name)
	}
	parent := &fsState{} // FROM scratch
	if root.Input != int64(pb.Empty) {
		parent = inputs[root.Input]
	}
	if parent.plain != "" {
		return nil, unsupported("exec on the build context", name)
	}
	step := b.progress.start(name)
	st, err := b.run(ctx, meta, parent, step)
	if err != nil {
		if ctx.Err() == nil {
			err = fmt.Errorf("%s: %w", name, err)
		}
		step.fail(err)
		return nil, err
	}
	step.done()
	return []*fsState{st}, nil
}

func (b *builder) run(ctx context.Context, meta *pb.Meta, parent *fsState, step *stepProgress) (*fsState, error) {
	lowers, err := b.lowers(parent)
	if err != nil {
		return nil, err
	}
	bundle, err := b.newDir("run")
	if err != nil {
		return nil, err
	}
	id := containerID(b.dir, b.seq)
	upper, work := filepath.Join(bundle, "upper"), filepath.Join(bundle, "work")
	var stubs []string
	for _, s := range mountStubs {
		if !inLowers(lowers, s) {
			stubs = append(stubs, s)
		}
	}
	uid, gid, groups, err := execUser(lowers, meta.User)
	if err != nil {
		return nil, err
	}
	if err := makeCwd(lowers, upper, work, filepath.Join(bundle, "cwd"), meta.Cwd, int(uid), int(gid)); err != nil {
		return nil, err
	}
	rt, err := runtime.New(runDir(b.o.Root))
	if err != nil {
		return nil, err
	}
	hostname := meta.Hostname
	if hostname == "" {
		hostname = "buildkitsandbox" // BuildKit's
	}
	spec := runtime.Spec{
		ID:       id,
		Hostname: hostname,
		Rootfs:   runtime.Rootfs{Lowers: lowers, Upper: upper, Work: work},
		Process: runtime.Process{
			Args: meta.Args, Env: execEnv(meta), Cwd: meta.Cwd,
			UID: uid, GID: gid, AdditionalGIDs: groups,
		},
	}
	c, err := rt.Create(ctx, spec, bundle)
	if err != nil {
		return nil, err
	}
	out := step.writer()
	// stdin an empty pipe, as BuildKit's: the command reads its end at
	// once, and sees a pipe, not /dev/null
	p, _, err := c.Start(runtime.IO{Stdin: strings.NewReader(""), Stdout: out, Stderr: out})
	if err != nil {
		c.Delete()
		return nil, err
	}
	// a cancelled build kills its step: Delete below ends the container
	stop := context.AfterFunc(ctx, func() { c.Delete() })
	code, werr := p.Wait()
	stop()
	out.Flush()
	if derr := c.Delete(); derr != nil && werr == nil {
		werr = derr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, werr
	}
	if code != 0 {
		return nil, errclass.New(ErrFailed, "process %q did not complete successfully: exit code: %d", strings.Join(meta.Args, " "), code)
	}
	for _, s := range stubs {
		removeStub(filepath.Join(upper, s))
	}
	os.RemoveAll(work)
	return with(parent, upper), nil
}

// inLowers says whether rel is in the layers, as the overlay shows
// them: what matters is whether the runtime must make a stub.
func inLowers(lowers []string, rel string) bool {
	_, fi := visible(lowers, rel)
	return fi != nil
}

// removeStub removes a mount point the runtime made, if nothing was put
// in it: an empty directory or file.
func removeStub(p string) {
	fi, err := os.Lstat(p)
	if err != nil {
		return
	}
	if fi.IsDir() {
		os.Remove(p) // fails, as it should, when not empty
	} else if fi.Mode().IsRegular() && fi.Size() == 0 {
		os.Remove(p)
	}
}

// execUser resolves a RUN's user (USER: name or uid, with an optional
// group) against the topmost /etc/passwd and /etc/group of the layers,
// as BuildKit's executor does (executor/oci.GetUser): "uid:gid" in
// numbers is taken as it is, without the files; no USER is root, even
// when the files do not say so; and the primary group is one of the
// process's groups too.
func execUser(lowers []string, spec string) (uid, gid uint32, groups []uint32, err error) {
	uid, gid, sgids, err := lookupExecUser(lowers, spec)
	if err != nil {
		return 0, 0, nil, err
	}
	if !slices.Contains(sgids, gid) {
		sgids = append([]uint32{gid}, sgids...)
	}
	return uid, gid, sgids, nil
}

func lookupExecUser(lowers []string, spec string) (uid, gid uint32, groups []uint32, err error) {
	isDefault := spec == ""
	if isDefault {
		spec = "0"
	}
	if u, g, ok := numericUser(spec); ok {
		return u, g, nil, nil
	}
	passwd, group := topmost(lowers, "etc/passwd"), topmost(lowers, "etc/group")
	u, err := user.GetExecUserPath(spec, nil, passwd, group)
	if err != nil {
		if isDefault {
			return 0, 0, nil, nil
		}
		return 0, 0, nil, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("unable to find user %s: %v", spec, err))
	}
	for _, g := range u.Sgids {
		groups = append(groups, uint32(g))
	}
	return uint32(u.Uid), uint32(u.Gid), groups, nil
}

// numericUser is BuildKit's fast path (executor/oci.ParseUIDGID): a
// user and a group both given in numbers ("root" counting as 0).
func numericUser(spec string) (uid, gid uint32, ok bool) {
	us, gs, found := strings.Cut(spec, ":")
	if !found {
		return 0, 0, false
	}
	parse := func(s string) (uint32, bool) {
		if s == "root" {
			return 0, true
		}
		n, err := strconv.ParseUint(s, 10, 32)
		return uint32(n), err == nil
	}
	u, ok1 := parse(us)
	g, ok2 := parse(gs)
	return u, g, ok1 && ok2
}

// topmost is the path of rel in the layers if it is a regular file as
// the overlay shows it, else "": moby/sys/user then finds no entries,
// as BuildKit's executor finds none in the mounted root.
func topmost(lowers []string, rel string) string {
	if p, fi := visible(lowers, rel); fi != nil && fi.Mode().IsRegular() {
		return p
	}
	return ""
}

// visible is rel in the topmost layer that has it, as the overlay shows
// it: nil when no layer has it or a layer above the one holding it
// removed it (a whiteout of it or of a directory on its way, or an
// opaque directory on its way).
func visible(lowers []string, rel string) (string, os.FileInfo) {
	rel = filepath.Clean(rel)
	for _, l := range lowers {
		p := filepath.Join(l, rel)
		if fi, err := os.Lstat(p); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode()&os.ModeCharDevice != 0 && st.Rdev == 0 {
				return "", nil // a whiteout
			}
			return p, fi
		}
		// what is below this layer shows through unless a directory on
		// the way is removed or opaque here
		for d := filepath.Dir(rel); d != "."; d = filepath.Dir(d) {
			fi, err := os.Lstat(filepath.Join(l, d))
			if err != nil {
				continue
			}
			if !fi.IsDir() {
				return "", nil
			}
			if v, err := xattrValue(filepath.Join(l, d), tarfs.OpaqueXattr); err == nil && v == "y" {
				return "", nil
			}
		}
	}
	return "", nil
}

func xattrValue(p, name string) (string, error) {
	buf := make([]byte, 16)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// execEnv is a RUN's environment as BuildKit's exec operation makes it:
// the frontend's, then the proxy build args (HTTP_PROXY and the others,
// predefined, in both cases, never in the image or its history), and a
// default PATH when there is none.
func execEnv(meta *pb.Meta) []string {
	env := slices.Clone(meta.Env)
	if p := meta.ProxyEnv; p != nil {
		for _, kv := range [][2]string{{"HTTP_PROXY", p.HttpProxy}, {"HTTPS_PROXY", p.HttpsProxy}, {"FTP_PROXY", p.FtpProxy}, {"NO_PROXY", p.NoProxy}, {"ALL_PROXY", p.AllProxy}} {
			if kv[1] != "" {
				env = append(env, kv[0]+"="+kv[1], strings.ToLower(kv[0])+"="+kv[1])
			}
		}
	}
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return env
}

// makeCwd makes a RUN's working directory when the layers lack it (a
// RUN before removed it), its missing parts owned by the step's user,
// as BuildKit's executor does; on an overlay of the step's own, mounted
// at mnt for the while, so that it lands in the step's layer as any
// change of the step's.
func makeCwd(lowers []string, upper, work, mnt, cwd string, uid, gid int) (err error) {
	rel := strings.TrimPrefix(filepath.Clean("/"+cwd), "/")
	if rel == "" {
		return nil
	}
	if _, fi := visible(lowers, rel); fi != nil && fi.IsDir() {
		return nil
	}
	if err := runtime.MountRootfs(runtime.Rootfs{Lowers: lowers, Upper: upper, Work: work}, mnt); err != nil {
		return err
	}
	defer func() {
		if uerr := runtime.Unmount(mnt); uerr != nil && err == nil {
			err = uerr
		}
		os.Remove(mnt)
	}()
	p, err := securejoin.SecureJoin(mnt, rel)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	var missing []string
	for d := p; d != mnt; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("making the working directory %s: %w", cwd, err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
		if err := os.Lchown(d, uid, gid); err != nil {
			return err
		}
	}
	return nil
}
