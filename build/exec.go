package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
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

// exec executes a RUN: its command in berth's runtime, on an overlay of
// the parent's layers, with its network and mounts. Its output is the
// parent plus the overlay's upper directory.
func (b *builder) exec(ctx context.Context, e *pb.ExecOp, inputs []*fsState, name string) ([]*fsState, error) {
	var root *pb.Mount
	for _, m := range e.Mounts {
		if m.Dest == pb.RootMount && m.MountType == pb.MountType_BIND {
			root = m
		}
	}
	if root == nil || int(root.Input) >= len(inputs) || root.Output != 0 {
		return nil, unsupported("exec without a root filesystem", name)
	}
	switch e.Security {
	case pb.SecurityMode_SANDBOX:
	case pb.SecurityMode_INSECURE:
		if !b.o.allowed(AllowInsecure) {
			return nil, errclass.New(ErrInvalid, "%s: security.insecure is not allowed (RUN --security=insecure needs the build's --allow security.insecure)", name)
		}
	default:
		return nil, unsupported("exec in security mode "+e.Security.String(), name)
	}
	if len(e.CdiDevices) > 0 {
		return nil, unsupported("exec with devices (RUN --device)", name)
	}
	parent := &fsState{} // FROM scratch
	if root.Input != int64(pb.Empty) {
		parent = inputs[root.Input]
	}
	if parent.plain != "" {
		return nil, unsupported("exec on the build context", name)
	}
	step := b.progress.start(name)
	st, err := b.run(ctx, e, inputs, parent, name, step)
	if err != nil {
		if ctx.Err() == nil && !strings.HasPrefix(err.Error(), name+": ") {
			err = fmt.Errorf("%s: %w", name, err)
		}
		step.fail(err)
		return nil, err
	}
	step.done()
	return []*fsState{st}, nil
}

func (b *builder) run(ctx context.Context, e *pb.ExecOp, inputs []*fsState, parent *fsState, name string, step *stepProgress) (*fsState, error) {
	meta := e.GetMeta()
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
	sm, err := b.mounts(ctx, e, inputs, bundle, name)
	if err != nil {
		return nil, err
	}
	defer sm.release(bundle)
	net, err := b.joinNetwork(ctx, e.Network, id, bundle, name)
	if err != nil {
		return nil, err
	}
	defer net.leave()
	// /etc/hosts and /etc/resolv.conf are bound from the step's
	// directory, never written in its layer, as in BuildKit
	hosts, resolv, err := etcFiles(bundle, hostname, meta.ExtraHosts, net.host, hostResolvConf)
	if err != nil {
		return nil, err
	}
	etc := []specs.Mount{
		{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: resolv, Options: []string{"rbind"}},
	}
	var rlimits []specs.POSIXRlimit
	for _, u := range meta.Ulimit {
		rlimits = append(rlimits, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}
	spec := runtime.Spec{
		ID:       id,
		Hostname: hostname,
		Rootfs:   runtime.Rootfs{Lowers: lowers, Upper: upper, Work: work},
		Process: runtime.Process{
			Args: meta.Args, Env: append(execEnv(meta), sm.env...), Cwd: meta.Cwd,
			UID: uid, GID: gid, AdditionalGIDs: groups, Rlimits: rlimits,
		},
		Mounts:      append(etc, sm.mounts...),
		ShmSize:     sm.shmSize,
		NetNS:       net.path,
		HostNetwork: net.host,
		// Docker's default confinement (its capabilities, seccomp
		// profile, masked paths) unless the RUN is insecure and allowed
		Privileged: e.Security == pb.SecurityMode_INSECURE,
	}
	c, err := rt.Create(ctx, spec, bundle)
	if err != nil {
		return nil, err
	}
	// what the runtime will make as mount points, the step did not make
	stubs := mountStubs(filepath.Join(bundle, "rootfs"), sm.dests)
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
		return nil, &ExitError{Args: meta.Args, Code: code}
	}
	for _, s := range stubs {
		removeStub(filepath.Join(upper, s))
	}
	os.RemoveAll(work)
	return with(parent, upper), nil
}

// hostResolvConf is the resolv.conf a step's is made from; empty is the
// host's, as BuildKit finds it. Tests point it elsewhere.
var hostResolvConf = ""

// mountStubs are the paths, relative to the root filesystem mounted at
// rootfs, that the runtime is about to make as mount points because they
// are not there: /etc/hosts and /etc/resolv.conf, and the RUN's mounts'
// targets with the directories made for them, deepest first. Removed
// from the step's upper directory when they are still empty, they are no
// change of the step's: BuildKit removes them too
// (executor.MountStubsCleaner). The directories /proc, /dev and /sys
// that the runtime makes stay in the layer, as they stay in BuildKit's.
func mountStubs(rootfs string, dests []string) []string {
	var out []string
	missing := func(rel string) bool {
		p, err := securejoin.SecureJoin(rootfs, rel)
		if err != nil {
			return false
		}
		_, err = os.Lstat(p)
		return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR)
	}
	for _, d := range append([]string{"/etc/hosts", "/etc/resolv.conf"}, dests...) {
		for rel := strings.TrimPrefix(filepath.Clean("/"+d), "/"); rel != "." && rel != "" && missing(rel); rel = filepath.Dir(rel) {
			if !slices.Contains(out, rel) {
				out = append(out, rel)
			}
		}
	}
	// deepest first, so that a directory made for a stub is empty when
	// its turn comes
	slices.SortStableFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out
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
