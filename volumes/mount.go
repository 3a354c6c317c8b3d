package volumes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/tarfs"
	"github.com/berth-dev/berth/volumes/mount"
)

// Spec is one mount a container asks for (mount.Spec: the type lives in
// a leaf so that api's options can name it without this package).
type Spec = mount.Spec

// ParseVolumeFlag reads docker's -v: [SOURCE:]TARGET[:OPTIONS]. A source
// starting with / (or . or ~) is a host path, anything else a volume name;
// no source is an anonymous volume.
func ParseVolumeFlag(s string) (Spec, error) {
	parts := strings.Split(s, ":")
	var sp Spec
	switch len(parts) {
	case 1:
		sp = Spec{Type: "volume", Target: parts[0]}
	case 2, 3:
		if strings.HasPrefix(parts[1], "/") {
			sp = Spec{Source: parts[0], Target: parts[1]}
			if len(parts) == 3 {
				if err := parseOptions(&sp, parts[2]); err != nil {
					return sp, fmt.Errorf("invalid volume specification %q: %w", s, err)
				}
			}
		} else if len(parts) == 2 {
			sp = Spec{Type: "volume", Target: parts[0]}
			if err := parseOptions(&sp, parts[1]); err != nil {
				return sp, fmt.Errorf("invalid volume specification %q: %w", s, err)
			}
		} else {
			return sp, errclass.New(ErrInvalid, "invalid volume specification %q", s)
		}
	default:
		return sp, errclass.New(ErrInvalid, "invalid volume specification %q", s)
	}
	if sp.Type == "" {
		if isHostPath(sp.Source) {
			sp.Type, sp.CreateHostPath = "bind", true
		} else {
			sp.Type = "volume"
		}
	}
	return sp, checkTarget(sp)
}

func isHostPath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~")
}

// parseOptions reads -v's comma-separated options into sp.
func parseOptions(sp *Spec, opts string) error {
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "ro", "readonly":
			sp.ReadOnly = true
		case "rw":
			sp.ReadOnly = false
		case "nocopy":
			sp.NoCopy = true
		case "z", "Z":
			fmt.Fprintf(os.Stderr, "warning: the %q volume option relabels for SELinux, which this machine does not use: ignored\n", o)
		case "shared", "rshared", "slave", "rslave", "private", "rprivate":
			sp.Propagation = o
		case "":
		default:
			return errclass.New(ErrInvalid, "unknown option %q", o)
		}
	}
	return nil
}

// ParseMountFlag reads docker's --mount: type=...,source=...,target=...,...
func ParseMountFlag(s string) (Spec, error) {
	sp := Spec{Type: "volume"}
	for _, field := range strings.Split(s, ",") {
		k, v, hasValue := strings.Cut(field, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		switch k {
		case "type":
			sp.Type = v
		case "source", "src":
			sp.Source = v
		case "target", "destination", "dst":
			sp.Target = v
		case "readonly", "ro":
			sp.ReadOnly = !hasValue || v == "1" || v == "true"
		case "volume-nocopy":
			sp.NoCopy = !hasValue || v == "1" || v == "true"
		case "volume-subpath":
			sp.Subpath = v
		case "bind-propagation":
			sp.Propagation = v
		case "tmpfs-size":
			n, err := units.RAMInBytes(v)
			if err != nil || n <= 0 {
				return sp, errclass.New(ErrInvalid, "invalid tmpfs-size %q in --mount %q", v, s)
			}
			sp.TmpfsSize = n
		case "tmpfs-mode":
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return sp, errclass.New(ErrInvalid, "invalid tmpfs-mode %q in --mount %q", v, s)
			}
			sp.TmpfsMode = os.FileMode(m)
		case "":
		default:
			return sp, errclass.New(ErrInvalid, "unexpected key %q in --mount %q", k, s)
		}
	}
	if sp.Type != "volume" && sp.Type != "bind" && sp.Type != "tmpfs" {
		return sp, errclass.New(ErrInvalid, "mount type %q is not supported (volume, bind, tmpfs are)", sp.Type)
	}
	if sp.Type == "bind" && sp.Source == "" {
		return sp, errclass.New(ErrInvalid, "--mount %q: a bind needs a source", s)
	}
	return sp, checkTarget(sp)
}

func checkTarget(sp Spec) error {
	if !strings.HasPrefix(sp.Target, "/") {
		return errclass.New(ErrInvalid, "invalid mount config: mount path %q must be absolute", sp.Target)
	}
	if sp.Target == "/" {
		return errclass.New(ErrInvalid, "invalid mount config: cannot mount over /")
	}
	return nil
}

// Used is a volume a container's mounts use.
type Used struct {
	Name      string
	Target    string
	Anonymous bool
}

// Describe turns a container's mount requests into the mounts the runtime
// makes, creating the volumes they name (or anonymous ones) and checking bind
// sources. copyUp is called for each volume that is empty and wants the
// image's files at its target. The runtime mounts them parent before child,
// whatever order they were asked in.
func (s *Store) Describe(ctx context.Context, req []Spec, labels map[string]string, copyUp func(target, dst string) error) ([]specs.Mount, []Used, error) {
	var mounts []specs.Mount
	var used []Used
	seen := map[string]bool{}
	for _, sp := range req {
		if err := checkTarget(sp); err != nil {
			return nil, nil, err
		}
		target := filepath.Clean(sp.Target)
		if seen[target] {
			return nil, nil, errclass.New(ErrInvalid, "duplicate mount point: %s", target)
		}
		seen[target] = true
		opts := []string{"rbind", cmp.Or(sp.Propagation, "rprivate")}
		if sp.ReadOnly {
			opts = append(opts, "ro")
		}
		switch sp.Type {
		case "tmpfs":
			o := []string{"nosuid", "nodev", "noexec"}
			if sp.TmpfsSize > 0 {
				o = append(o, fmt.Sprintf("size=%d", sp.TmpfsSize))
			}
			if sp.TmpfsMode != 0 {
				o = append(o, fmt.Sprintf("mode=%o", sp.TmpfsMode))
			}
			if sp.ReadOnly {
				o = append(o, "ro")
			}
			mounts = append(mounts, specs.Mount{Destination: target, Type: "tmpfs", Source: "tmpfs", Options: o})
		case "bind":
			src, err := hostPath(sp.Source)
			if err != nil {
				return nil, nil, err
			}
			if _, err := os.Stat(src); err != nil {
				if !sp.CreateHostPath {
					return nil, nil, errclass.New(ErrInvalid, "invalid mount config for type \"bind\": bind source path does not exist: %s", src)
				}
				if err := os.MkdirAll(src, 0o755); err != nil {
					return nil, nil, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("creating bind source %s: %v", src, err))
				}
			}
			mounts = append(mounts, specs.Mount{Destination: target, Type: "bind", Source: src, Options: opts})
		default:
			v, err := s.Create(ctx, sp.Source, CreateOptions{Labels: maps(labels), Anonymous: sp.Anonymous})
			if err != nil {
				return nil, nil, err
			}
			used = append(used, Used{Name: v.Name, Target: target, Anonymous: v.Anonymous()})
			if err := s.Ready(v); err != nil {
				return nil, nil, err
			}
			if m, ok := v.directMount(target, sp.ReadOnly); ok {
				mounts = append(mounts, m)
				continue
			}
			src := v.Mountpoint
			if sp.Subpath != "" {
				sub, err := inside(src, sp.Subpath)
				if err != nil {
					return nil, nil, err
				}
				src = sub
			} else if !sp.NoCopy && copyUp != nil {
				if err := s.copyUp(v, target, copyUp); err != nil {
					return nil, nil, err
				}
			}
			mounts = append(mounts, specs.Mount{Destination: target, Type: "bind", Source: src, Options: opts})
		}
	}
	return mounts, used, nil
}

// options are the volume's o= mount options, bind aside.
func (v Volume) options() []string {
	var opts []string
	if o := v.Options["o"]; o != "" {
		for _, x := range strings.Split(o, ",") {
			if x != "bind" && x != "rbind" {
				opts = append(opts, x)
			}
		}
	}
	return opts
}

// HostMount is the file system a volume of the local driver needs mounted
// on its _data directory, on the host, where every container using it
// binds it from, as Docker's local driver shares it: a tmpfs (type=tmpfs),
// or the device of a type (type=ext4,device=/dev/sdb1; type=nfs with
// o=addr=...), with the o= options as mount data. ok is false for other
// volumes: plain ones, and binds (o=bind), which directMount gives.
func (v Volume) HostMount() (m specs.Mount, ok bool) {
	switch t := v.Options["type"]; {
	case t == "tmpfs":
		return specs.Mount{Destination: v.Mountpoint, Type: "tmpfs", Source: "tmpfs", Options: append([]string{"nosuid", "nodev"}, v.options()...)}, true
	case t != "" && t != "none" && v.Options["device"] != "" && !v.bind():
		return specs.Mount{Destination: v.Mountpoint, Type: t, Source: v.Options["device"], Options: v.options()}, true
	}
	return specs.Mount{}, false
}

// bind says whether the volume is a bind of its device (o=bind).
func (v Volume) bind() bool {
	for _, x := range strings.Split(v.Options["o"], ",") {
		if x == "bind" || x == "rbind" {
			return true
		}
	}
	return false
}

// Ready mounts the volume's host file system (HostMount) if it is not
// mounted yet: at a container's creation and at each start, since a
// reboot takes it away. Other volumes need nothing.
func (s *Store) Ready(v Volume) error {
	m, ok := v.HostMount()
	if !ok {
		return nil
	}
	if mounted, err := mountinfo.Mounted(v.Mountpoint); err == nil && mounted {
		return nil
	}
	if s.Mount == nil {
		return errclass.New(ErrInvalid, "volume %s needs a mount, and this store cannot make one", v.Name)
	}
	return s.Mount(m)
}

// directMount is the mount of a volume whose driver options make it a
// bind of a host directory (o=bind,device=...), instead of its _data
// directory.
func (v Volume) directMount(target string, ro bool) (specs.Mount, bool) {
	o := v.Options
	opts := v.options()
	if ro {
		opts = append(opts, "ro")
	}
	if !v.bind() || o["device"] == "" {
		return specs.Mount{}, false
	}
	return specs.Mount{Destination: target, Type: "bind", Source: o["device"], Options: append([]string{"rbind", "rprivate"}, opts...)}, true
}

// copyUp fills an empty volume with the image's files at target: into a
// temporary directory, then renamed over the empty _data, so a crash leaves
// it empty (and the copy is tried again) or complete. The directory itself
// comes too, even empty: its owner, mode and xattrs become the volume's, as
// in Docker, so a service running as its own user can write to a fresh
// volume over a directory the image made for it. from returns ErrNoSource
// where the image has no directory there: the volume is left as it is.
func (s *Store) copyUp(v Volume, target string, from func(target, dst string) error) error {
	entries, err := os.ReadDir(v.Mountpoint)
	if err != nil || len(entries) > 0 {
		return err // holds data: never overwritten
	}
	if _, mounted := v.HostMount(); mounted {
		// A mount point cannot be renamed over (EBUSY), so the files go
		// straight in, as Docker's copy does; a crash in the middle
		// leaves part of them, and the next start does not copy again.
		if err := from(target, v.Mountpoint); err != nil && !errors.Is(err, ErrNoSource) {
			return errclass.Wrap(ErrInvalid, err, fmt.Sprintf("copying the image's %s into volume %s: %v", target, v.Name, err))
		}
		return nil
	}
	// named by this process, so that Sweep can tell a dead one's
	tmp, err := os.MkdirTemp(filepath.Dir(v.Mountpoint), fmt.Sprintf("%s%d-", copyPrefix, os.Getpid()))
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := from(target, tmp); errors.Is(err, ErrNoSource) {
		return nil
	} else if err != nil {
		return errclass.Wrap(ErrInvalid, err, fmt.Sprintf("copying the image's %s into volume %s: %v", target, v.Name, err))
	}
	crash.Point("volume-copyup")
	// rename(2) replaces an empty directory; Go's os.Rename refuses to
	if err := unix.Rename(tmp, v.Mountpoint); err != nil {
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	return nil
}

// ErrNoSource: the image has no directory where a volume is mounted, so
// there is nothing to copy up.
var ErrNoSource = errors.New("no directory to copy")

// CopyTree copies the tree at src into dst, the volume's new root, owners
// and modes included (src's own owner, mode and xattrs become dst's). A
// missing src is ErrNoSource.
func CopyTree(ctx context.Context, src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil || !fi.IsDir() {
		return ErrNoSource
	}
	r, w := io.Pipe()
	go func() { w.CloseWithError(tarfs.Write(ctx, src, "", w)) }()
	if err := tarfs.Extract(ctx, r, dst, tarfs.Options{}); err != nil {
		r.CloseWithError(err)
		return err
	}
	return copyRootMeta(src, dst, fi)
}

func hostPath(p string) (string, error) {
	if strings.HasPrefix(p, "~") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = filepath.Join(home, p[1:])
	}
	return filepath.Abs(p)
}

// inside resolves sub under root without leaving it.
func inside(root, sub string) (string, error) {
	p := filepath.Join(root, filepath.Clean("/"+sub))
	fi, err := os.Stat(p)
	if err != nil || !fi.IsDir() {
		return "", errclass.New(ErrInvalid, "volume subpath %q is not a directory in the volume", sub)
	}
	return p, nil
}

func maps(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
