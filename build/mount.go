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
	"sort"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	copy "github.com/tonistiigi/fsutil/copy"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/runtime"
)

// stepMounts are what RUN --mount gives a step: the runtime's mounts,
// the /dev/shm size (a tmpfs at /dev/shm replaces the default one),
// secrets set in the environment, and what to undo when the step ends.
type stepMounts struct {
	mounts  []specs.Mount
	shmSize int64
	env     []string
	dests   []string
	undo    []func()
}

// release undoes the mounts: the views and tmpfs mounted in bundle,
// the cache locks.
func (m *stepMounts) release(bundle string) {
	for i := len(m.undo) - 1; i >= 0; i-- {
		m.undo[i]()
	}
	m.undo = nil
	unmountUnder(bundle)
}

// unmountUnder unmounts what is mounted under dir, deepest first.
func unmountUnder(dir string) {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		runtime.Unmount(m.Mountpoint)
	}
}

// mounts readies the mounts of exec e (all but its root) in bundle.
func (b *builder) mounts(ctx context.Context, e *pb.ExecOp, inputs []*fsState, bundle, step string) (_ *stepMounts, err error) {
	sm := &stepMounts{}
	defer func() {
		if err != nil {
			sm.release(bundle)
		}
	}()
	for i, m := range e.Mounts {
		if m.Dest == pb.RootMount && m.MountType == pb.MountType_BIND {
			continue
		}
		dir := filepath.Join(bundle, fmt.Sprintf("mount-%d", i))
		var spec *specs.Mount
		switch m.MountType {
		case pb.MountType_BIND:
			spec, err = b.bindMount(m, inputs, dir, step)
		case pb.MountType_CACHE:
			spec, err = b.cacheMount(ctx, m, inputs, step, sm)
		case pb.MountType_TMPFS:
			var size int64
			if m.TmpfsOpt != nil {
				size = m.TmpfsOpt.Size
			}
			if m.Dest == "/dev/shm" {
				// the frontend's --shm-size
				sm.shmSize = size
				continue
			}
			opts := []string{"nosuid"}
			if size > 0 {
				opts = append(opts, fmt.Sprintf("size=%d", size))
			}
			spec = &specs.Mount{Destination: m.Dest, Type: "tmpfs", Source: "tmpfs", Options: opts}
		case pb.MountType_SECRET:
			spec, err = b.secretMount(m, dir, step)
		case pb.MountType_SSH:
			return nil, errclass.New(ErrUnsupported, "%s: RUN --mount=type=ssh is not supported by berth's builder yet", step)
		default:
			return nil, unsupported(fmt.Sprintf("exec with a %s mount at %s (RUN --mount)", strings.ToLower(m.MountType.String()), m.Dest), step)
		}
		if err != nil {
			return nil, err
		}
		if spec == nil {
			continue // an optional secret the build was not given
		}
		sm.mounts = append(sm.mounts, *spec)
		sm.dests = append(sm.dests, m.Dest)
	}
	for _, se := range e.Secretenv {
		v, err := b.o.secret(se.ID)
		if errors.Is(err, errSecretNotFound) && se.Optional {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", step, err)
		}
		sm.env = append(sm.env, se.Name+"="+string(v))
	}
	return sm, nil
}

// bindMount is RUN --mount=type=bind: a path of the context or of
// another stage's filesystem, read-only unless rw, when writes go to a
// throwaway overlay of it.
func (b *builder) bindMount(m *pb.Mount, inputs []*fsState, dir, step string) (*specs.Mount, error) {
	var st *fsState
	switch {
	case m.Input == int64(pb.Empty):
		st = &fsState{}
	case m.Input >= 0 && int(m.Input) < len(inputs):
		st = inputs[m.Input]
	default:
		return nil, errclass.New(ErrInvalid, "%s: a mount at %s names no input", step, m.Dest)
	}
	var lowers []string
	var err error
	if st.plain != "" {
		lowers = []string{st.plain}
	} else if lowers, err = b.lowers(st); err != nil {
		return nil, err
	}
	view := filepath.Join(dir, "view")
	switch {
	case m.Readonly && st.plain != "":
		view = st.plain // the context as it is, bound read-only
	case m.Readonly:
		if err := runtime.MountLowers(lowers, view); err != nil {
			return nil, err
		}
	default:
		if err := runtime.MountRootfs(runtime.Rootfs{Lowers: lowers, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work")}, view); err != nil {
			return nil, err
		}
	}
	src, err := securejoin.SecureJoin(view, m.Selector)
	if err == nil {
		_, err = os.Lstat(src)
	}
	if err != nil {
		if view != st.plain {
			runtime.Unmount(view)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errclass.New(ErrInvalid, "%s: failed to calculate checksum of ref: %q: not found (RUN --mount source)", step, filepath.Join("/", m.Selector))
		}
		return nil, err
	}
	opts := []string{"rbind"}
	if m.Readonly {
		opts = append(opts, "ro")
	}
	return &specs.Mount{Destination: m.Dest, Type: "bind", Source: src, Options: opts}, nil
}

// secretMount is RUN --mount=type=secret: the secret's value in a file on
// a tmpfs of the step's (never on disk, never in the upper directory),
// bound read-only at the target.
func (b *builder) secretMount(m *pb.Mount, dir, step string) (*specs.Mount, error) {
	o := m.SecretOpt
	if o == nil || o.ID == "" {
		return nil, errclass.New(ErrInvalid, "%s: a secret mount without an ID", step)
	}
	v, err := b.o.secret(o.ID)
	if errors.Is(err, errSecretNotFound) && o.Optional {
		return nil, nil
	}
	if err != nil {
		return nil, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("%s: %v", step, err))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700,size=1m"); err != nil {
		return nil, fmt.Errorf("mounting a tmpfs for secret %s: %w", o.ID, err)
	}
	p := filepath.Join(dir, "secret")
	err = os.WriteFile(p, v, 0o600)
	if err == nil {
		err = os.Chown(p, int(o.Uid), int(o.Gid))
	}
	if err == nil {
		err = os.Chmod(p, os.FileMode(o.Mode)&0o7777)
	}
	if err != nil {
		runtime.Unmount(dir)
		return nil, fmt.Errorf("writing secret %s: %w", o.ID, err)
	}
	return &specs.Mount{Destination: m.Dest, Type: "bind", Source: p, Options: []string{"rbind", "ro"}}, nil
}

// CacheMountsDir is where the persistent directories of RUN
// --mount=type=cache live under a berth root.
func CacheMountsDir(root string) string { return filepath.Join(root, "build-cache-mounts") }

// cacheMount is RUN --mount=type=cache: a directory kept under the root
// between builds, one per ID (and base, when the mount has one: a from=
// stage, or the uid, gid and mode the frontend turns into one), shared
// by steps running at once, private to one (another gets a new one) or
// locked (the next waits), as its sharing says.
func (b *builder) cacheMount(ctx context.Context, m *pb.Mount, inputs []*fsState, step string, sm *stepMounts) (*specs.Mount, error) {
	o := m.CacheOpt
	if o == nil || o.ID == "" {
		return nil, errclass.New(ErrInvalid, "%s: a cache mount without an ID", step)
	}
	key := o.ID
	var base *fsState
	if m.Input != int64(pb.Empty) {
		if m.Input < 0 || int(m.Input) >= len(inputs) {
			return nil, errclass.New(ErrInvalid, "%s: a mount at %s names no input", step, m.Dest)
		}
		base = inputs[m.Input]
		key += ":" + string(b.digestOf(base))
	}
	sum := sha256.Sum256([]byte(key))
	keyDir := filepath.Join(CacheMountsDir(b.o.Root), hex.EncodeToString(sum[:16]))
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return nil, err
	}
	os.WriteFile(filepath.Join(keyDir, "id"), []byte(key+"\n"), 0o600)
	dir, unlock, err := b.cacheInstance(ctx, keyDir, o.Sharing, base)
	if err != nil {
		return nil, fmt.Errorf("%s: cache mount %s: %w", step, o.ID, err)
	}
	sm.undo = append(sm.undo, unlock)
	src, err := securejoin.SecureJoin(dir, m.Selector)
	if err == nil {
		err = os.MkdirAll(src, 0o755)
	}
	if err != nil {
		return nil, err
	}
	return &specs.Mount{Destination: m.Dest, Type: "bind", Source: src, Options: []string{"rbind"}}, nil
}

// cacheInstance picks (or makes) an instance of the cache in keyDir and
// locks it as sharing says: instances N/ with their locks N.lock. A new
// one starts as a copy of base.
func (b *builder) cacheInstance(ctx context.Context, keyDir string, sharing pb.CacheSharingOpt, base *fsState) (string, func(), error) {
	how := unix.LOCK_SH
	if sharing != pb.CacheSharingOpt_SHARED {
		how = unix.LOCK_EX
	}
	// the key's lock orders the choice and making of instances
	kl, err := lockFile(filepath.Join(keyDir, "lock"), unix.LOCK_EX)
	if err != nil {
		return "", nil, err
	}
	defer kl.Close()
	for n := 0; ; n++ {
		dir := filepath.Join(keyDir, fmt.Sprint(n))
		_, statErr := os.Stat(dir)
		l, err := lockFile(dir+".lock", how|unix.LOCK_NB)
		if err == nil {
			if statErr != nil {
				if err := b.newCacheInstance(ctx, dir, base); err != nil {
					l.Close()
					return "", nil, err
				}
			}
			return dir, func() { l.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return "", nil, err
		}
		if sharing == pb.CacheSharingOpt_LOCKED {
			// the next step waits for the one that has it (polling, so
			// that a cancelled build stops waiting)
			kl.Close()
			for {
				select {
				case <-ctx.Done():
					return "", nil, ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
				if l, err = lockFile(dir+".lock", unix.LOCK_EX|unix.LOCK_NB); err == nil {
					if _, err := os.Stat(dir); err != nil {
						if err := b.newCacheInstance(ctx, dir, base); err != nil {
							l.Close()
							return "", nil, err
						}
					}
					return dir, func() { l.Close() }, nil
				}
			}
		}
	}
}

// newCacheInstance makes a cache directory at dir: empty, or a copy of
// base's files.
func (b *builder) newCacheInstance(ctx context.Context, dir string, base *fsState) error {
	tmp := dir + ".new"
	os.RemoveAll(tmp)
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	if base != nil {
		src := base.plain
		if src == "" {
			lowers, err := b.lowers(base)
			if err != nil {
				return err
			}
			view, err := b.newDir("cache-base")
			if err != nil {
				return err
			}
			if err := runtime.MountLowers(lowers, view); err != nil {
				return err
			}
			defer runtime.Unmount(view)
			src = view
		}
		err := copy.Copy(ctx, src, "/", tmp, "/", func(ci *copy.CopyInfo) { ci.CopyDirContents = true },
			copy.WithXAttrErrorHandler(func(dst, src, key string, err error) error { return nil }))
		if err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("copying the cache's base: %w", err)
		}
	}
	return os.Rename(tmp, dir)
}

func lockFile(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// PruneCacheMounts removes the directories of RUN --mount=type=cache
// under root that no build is using, and returns how many bytes they
// held. builder prune calls it.
func PruneCacheMounts(root string) (int64, error) {
	keys, err := os.ReadDir(CacheMountsDir(root))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var freed int64
	var errs []error
	for _, k := range keys {
		keyDir := filepath.Join(CacheMountsDir(root), k.Name())
		kl, err := lockFile(filepath.Join(keyDir, "lock"), unix.LOCK_EX)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		instances, _ := filepath.Glob(filepath.Join(keyDir, "*.lock"))
		busy := false
		for _, lp := range instances {
			l, err := lockFile(lp, unix.LOCK_EX|unix.LOCK_NB)
			if err != nil {
				busy = true
				continue
			}
			dir := strings.TrimSuffix(lp, ".lock")
			freed += du(dir)
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, err)
			}
			os.Remove(lp)
			l.Close()
		}
		if !busy {
			os.RemoveAll(keyDir)
		}
		kl.Close()
	}
	return freed, errors.Join(errs...)
}

// du is the size of the files under dir.
func du(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// digestOf is the digest of the operation whose output st is: what
// names a cache mount's base across builds.
func (b *builder) digestOf(st *fsState) digest.Digest {
	for d, outs := range b.results {
		for _, o := range outs {
			if o == st {
				return d
			}
		}
	}
	return ""
}
