package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	// Without this import the cgroup manager cannot set device rules:
	// "cgroup manager is not configured to set device rules".
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"

	// nsenter is the C half of container start-up: it joins and creates
	// namespaces in the re-executed binary before the Go runtime starts
	// threads, which setns(2) and unshare(2) require.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/crash"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/runtime/spec"
)

// Error classes.
var (
	ErrNotFound = errclass.Sentinel(errclass.ErrNotFound, "no such container")
	ErrInvalid  = spec.ErrInvalid
	ErrState    = errclass.Sentinel(errclass.ErrState, "container is not in the right state")
)

// Init is the entry point of "berth init", the process libcontainer starts
// inside a new container. It does not return.
func Init() { libcontainer.Init() }

// Runtime keeps libcontainer's state (one directory per container) under a
// state directory, normally /run/berth/runc: tmpfs, because a container does
// not survive a reboot.
type Runtime struct {
	state string
}

// New returns a runtime whose state lives in dir.
func New(dir string) (*Runtime, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating runtime state %q: %w", dir, err)
	}
	return &Runtime{state: dir}, nil
}

// Container is a container libcontainer knows.
type Container struct {
	id     string
	rootfs string
	shm    string // ShmDir: unmounted by Delete if it was made
	c      *libcontainer.Container
	spec   *specs.Spec
}

// Create mounts s's root filesystem at <bundle>/rootfs and creates the
// container. Nothing runs until Start. On failure nothing is left: no
// mount, no cgroup, no state.
func (r *Runtime) Create(ctx context.Context, s Spec, bundle string) (c *Container, err error) {
	if s.ID == "" || strings.ContainsAny(s.ID, "/ ") {
		return nil, fmt.Errorf("container ID %q: %w", s.ID, ErrInvalid)
	}
	if len(s.Process.Args) == 0 {
		return nil, fmt.Errorf("container %s: no command: %w", s.ID, ErrInvalid)
	}
	rootfs := filepath.Join(bundle, "rootfs")
	if err := MountRootfs(s.Rootfs, rootfs); err != nil {
		return nil, fmt.Errorf("container %s: %w", s.ID, err)
	}
	defer func() {
		if err != nil {
			Unmount(rootfs)
			Unmount(ShmDir(bundle))
		}
	}()
	if s.Shm == ShareableShm {
		if err := MountHost(shmTmpfs(ShmDir(bundle), s.ShmSize)); err != nil {
			return nil, fmt.Errorf("container %s: /dev/shm: %w", s.ID, err)
		}
		s.Shm = ShmDir(bundle)
	}
	spec, err := ociSpec(s, rootfs)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w: %w", s.ID, err, ErrInvalid)
	}
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: s.ID, Spec: spec})
	if err != nil {
		return nil, fmt.Errorf("container %s: %w: %w", s.ID, err, ErrInvalid)
	}
	// specconv leaves rlimits to each process; kept in the config, they
	// are every exec's too, as Docker's exec starts from the container's
	// process spec
	if config.Rlimits, err = libcontainerRlimits(spec.Process.Rlimits); err != nil {
		return nil, fmt.Errorf("container %s: %w", s.ID, err)
	}
	lc, err := libcontainer.Create(r.state, s.ID, config)
	if err != nil {
		return nil, fmt.Errorf("creating container %s: %w", s.ID, err)
	}
	return &Container{id: s.ID, rootfs: rootfs, shm: ShmDir(bundle), c: lc, spec: spec}, nil
}

// Load finds a container created earlier, by this process or another.
func (r *Runtime) Load(id, bundle string) (*Container, error) {
	lc, err := libcontainer.Load(r.state, id)
	if err != nil {
		if errors.Is(err, libcontainer.ErrNotExist) {
			return nil, fmt.Errorf("container %s: %w", id, ErrNotFound)
		}
		return nil, err
	}
	return &Container{id: id, rootfs: filepath.Join(bundle, "rootfs"), shm: ShmDir(bundle), c: lc}, nil
}

// Forget removes container id's state directory if libcontainer left it
// empty: a process killed between making it and writing the state, or
// while removing it, leaves one that Load does not find and so nothing
// else removes. A directory with a state in it is never touched.
func (r *Runtime) Forget(id string) {
	os.Remove(filepath.Join(r.state, id))
}

// IO is where a process's standard streams go.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Rows and Cols size the terminal of a process that has one, before
	// the process starts (setting it afterwards races the process's first
	// look at it).
	Rows, Cols uint16
}

// Proc is a process started in a container.
type Proc struct {
	p *libcontainer.Process
}

// Pid is the process's ID on the host.
func (p *Proc) Pid() (int, error) { return p.p.Pid() }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.p.Signal(sig) }

// Wait waits for the process to exit and returns its exit code, 128 plus
// the signal number when a signal killed it, as a shell reports it.
func (p *Proc) Wait() (int, error) {
	st, err := p.p.Wait()
	if st == nil {
		return -1, err
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return st.ExitCode(), nil
}

// Start runs the container's first process with the given streams. The
// caller is its parent and must Wait for it. When the spec asks for a
// terminal, the streams are not used: Start returns the PTY master, which
// carries the process's input and its one output stream.
func (c *Container) Start(stdio IO) (*Proc, *os.File, error) {
	if c.spec == nil {
		return nil, nil, fmt.Errorf("container %s was loaded, not created here: %w", c.id, ErrState)
	}
	p, err := process(c.spec.Process, stdio)
	if err != nil {
		return nil, nil, err
	}
	p.Init = true
	master, err := runProcess(c.c, p, stdio, c.spec.Process.Terminal)
	if err != nil {
		return nil, nil, fmt.Errorf("starting container %s: %w", c.id, err)
	}
	return &Proc{p: p}, master, nil
}

// Signal sends sig to the container's first process.
func (c *Container) Signal(sig os.Signal) error {
	if err := c.c.Signal(sig); err != nil {
		return fmt.Errorf("signalling container %s: %w", c.id, err)
	}
	return nil
}

// Status is libcontainer's view: created, running, paused or stopped.
func (c *Container) Status() (string, error) {
	st, err := c.c.Status()
	if err != nil {
		return "", err
	}
	return st.String(), nil
}

// Delete removes what Create made: the container's processes (killed),
// its cgroup, libcontainer's state, the rootfs mount and a shareable
// /dev/shm. It is safe to call again.
func (c *Container) Delete() error {
	var errs []error
	if st, err := c.c.Status(); err == nil && st != libcontainer.Stopped {
		c.c.Signal(unix.SIGKILL)
	}
	if err := c.c.Destroy(); err != nil {
		errs = append(errs, err)
	}
	crash.Point("runtime-destroyed") // no state left to Load: UnmountBundle's
	for _, m := range []string{c.rootfs, c.shm} {
		if err := Unmount(m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func process(p *specs.Process, stdio IO) (*libcontainer.Process, error) {
	lp := &libcontainer.Process{
		Args: p.Args, Env: p.Env, Cwd: p.Cwd,
		UID: int(p.User.UID), GID: int(p.User.GID),
		NoNewPrivileges: &p.NoNewPrivileges,
		Stdin:           stdio.Stdin, Stdout: stdio.Stdout, Stderr: stdio.Stderr,
	}
	if c := p.Capabilities; c != nil {
		lp.Capabilities = &configs.Capabilities{Bounding: c.Bounding, Effective: c.Effective, Permitted: c.Permitted, Inheritable: c.Inheritable, Ambient: c.Ambient}
	}
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	var err error
	lp.Rlimits, err = libcontainerRlimits(p.Rlimits)
	return lp, err
}

// libcontainerRlimits converts the spec's rlimits to libcontainer's.
func libcontainerRlimits(rs []specs.POSIXRlimit) ([]configs.Rlimit, error) {
	var out []configs.Rlimit
	for _, r := range rs {
		t, ok := rlimits[r.Type]
		if !ok {
			return nil, fmt.Errorf("unknown rlimit %q: %w", r.Type, ErrInvalid)
		}
		out = append(out, configs.Rlimit{Type: t, Hard: r.Hard, Soft: r.Soft})
	}
	return out, nil
}

var rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// MountRootfs mounts the overlay of r at target. Create does it for a
// container; cp does it to reach the files of a stopped one.
func MountRootfs(r Rootfs, target string) error {
	if len(r.Lowers) == 0 {
		return fmt.Errorf("rootfs has no layers: %w", ErrInvalid)
	}
	for _, d := range []string{target, r.Upper, r.Work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(r.Lowers, ":"), r.Upper, r.Work)
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("overlay options for %d layers exceed a page: %w", len(r.Lowers), ErrInvalid)
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting rootfs: %w", err)
	}
	return nil
}

// MountLowers mounts a read-only view of an image's layers (top first) at
// target: what the image holds, for copying it into a volume.
func MountLowers(lowers []string, target string) error {
	if err := os.MkdirAll(target, 0o700); err != nil {
		return err
	}
	switch len(lowers) {
	case 0:
		return fmt.Errorf("no layers: %w", ErrInvalid)
	case 1:
		// overlayfs wants two lower layers when there is no upper one
		if err := unix.Mount(lowers[0], target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mounting the image view: %w", err)
		}
		return unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
	}
	if err := unix.Mount("overlay", target, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(lowers, ":")); err != nil {
		return fmt.Errorf("mounting the image view: %w", err)
	}
	return nil
}

// MountHost makes m on the host, at m.Destination: the file system a
// volume needs there (a tmpfs shared by the containers that use it).
func MountHost(m specs.Mount) error {
	if err := os.MkdirAll(m.Destination, 0o755); err != nil {
		return err
	}
	var flags uintptr
	var data []string
	for _, o := range m.Options {
		switch o {
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		case "ro":
			flags |= unix.MS_RDONLY
		default:
			data = append(data, o)
		}
	}
	if err := unix.Mount(m.Source, m.Destination, m.Type, flags, strings.Join(data, ",")); err != nil {
		return fmt.Errorf("mounting %s at %s: %w", m.Type, m.Destination, err)
	}
	return nil
}

// UnmountBundle detaches what Create mounted in a container's bundle (its
// rootfs and a shareable /dev/shm) whether or not libcontainer still has
// the container: a process killed between Destroy and the unmount (a
// monitor, a down) leaves the mounts without the state that Load needs.
func UnmountBundle(bundle string) error {
	return errors.Join(Unmount(filepath.Join(bundle, "rootfs")), Unmount(ShmDir(bundle)))
}

// Unmount detaches a rootfs, or a volume's host mount, if it is mounted.
func Unmount(target string) error {
	err := unix.Unmount(target, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmounting %s: %w", target, err)
}
