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
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/runtime"
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
			Args: meta.Args, Env: append(slices.Clone(meta.Env), sm.env...), Cwd: meta.Cwd,
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
	p, _, err := c.Start(runtime.IO{Stdout: out, Stderr: out})
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

// hostResolvConf is the resolv.conf a step's is made from; empty is the
// host's, as BuildKit finds it. Tests point it elsewhere.
var hostResolvConf = ""

// mountStubs are the paths, relative to the root filesystem mounted at
// rootfs, that the runtime is about to make as mount points because they
// are not there: the runtime's own (/proc, /dev, /sys), /etc/hosts and
// /etc/resolv.conf, and the RUN's mounts' targets with the directories
// made for them, deepest first. Removed from the step's upper directory
// when they are still empty, they are no change of the step's: BuildKit
// removes them too.
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
	for _, s := range []string{"proc", "dev", "sys"} {
		if missing(s) {
			out = append(out, s)
		}
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
// group) against the topmost /etc/passwd and /etc/group of the layers.
func execUser(lowers []string, spec string) (uid, gid uint32, groups []uint32, err error) {
	if spec == "" {
		spec = "0"
	}
	passwd, group := topmost(lowers, "etc/passwd"), topmost(lowers, "etc/group")
	u, err := user.GetExecUserPath(spec, &user.ExecUser{}, passwd, group)
	if err != nil {
		return 0, 0, nil, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("unable to find user %s: %v", spec, err))
	}
	for _, g := range u.Sgids {
		groups = append(groups, uint32(g))
	}
	return uint32(u.Uid), uint32(u.Gid), groups, nil
}

// topmost is the path of rel in the topmost layer that has it as a
// regular file; "" when none has (moby/sys/user then finds no entries).
func topmost(lowers []string, rel string) string {
	for _, l := range lowers {
		p := filepath.Join(l, rel)
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}
