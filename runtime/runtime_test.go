package runtime

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/netns"
)

// libcontainer starts containers by re-executing this test binary as
// "<binary> init" inside the new namespaces.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		Init()
	}
}

// busyboxLowers stores and unpacks the busybox test image under dir and
// returns its layer directories.
func busyboxLowers(t testing.TB, dir string) []string {
	t.Helper()
	s, snaps, err := image.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	img := testimage.Busybox(t)
	var buf bytes.Buffer
	if err := tarball.Write(name.MustParseReference("busybox:test"), img, &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := image.Load(context.Background(), s, snaps, &buf); err != nil {
		t.Fatal(err)
	}
	_, stored, err := s.Lookup("busybox:test")
	if err != nil {
		t.Fatal(err)
	}
	lowers, err := snaps.Lowers(stored)
	if err != nil {
		t.Fatal(err)
	}
	return lowers
}

var seq int

// newSpec is a spec running argv in the busybox image with a unique ID.
func newSpec(t *testing.T, lowers []string, argv ...string) (Spec, string) {
	t.Helper()
	seq++
	bundle := t.TempDir()
	return Spec{
		ID:       fmt.Sprintf("berth-test-%d-%d", os.Getpid(), seq),
		Hostname: "box",
		Rootfs:   Rootfs{Lowers: lowers, Upper: filepath.Join(bundle, "upper"), Work: filepath.Join(bundle, "work")},
		Process:  Process{Args: argv, Env: []string{"PATH=/bin"}, Cwd: "/tmp"},
	}, bundle
}

// run creates, starts and waits for a container and deletes it, returning
// its exit code and output.
func run(t *testing.T, rt *Runtime, s Spec, bundle string) (int, string) {
	t.Helper()
	c, err := rt.Create(context.Background(), s, bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Delete(); err != nil {
			t.Errorf("delete: %v", err)
		}
	}()
	var out bytes.Buffer
	p, _, err := c.Start(IO{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	code, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return code, out.String()
}

// newRuntime is a runtime under a fresh root, and the busybox layers to
// run containers from.
func newRuntime(t *testing.T) (rt *Runtime, lowers []string, root string) {
	t.Helper()
	fixture.RequireRoot(t, "namespaces, cgroups and overlay mounts")
	root = t.TempDir()
	lowers = busyboxLowers(t, root)
	rt, err := New(filepath.Join(root, "state"))
	if err != nil {
		t.Fatal(err)
	}
	return rt, lowers, root
}

func TestRunContainer(t *testing.T) {
	rt, lowers, _ := newRuntime(t)
	s, bundle := newSpec(t, lowers, "sh", "-c", "echo hello; hostname; pwd; grep CapEff /proc/self/status; cat /proc/kcore | wc -c; exit 3")
	code, out := run(t, rt, s, bundle)
	if code != 3 {
		t.Errorf("exit code %d, want 3\n%s", code, out)
	}
	for _, want := range []string{"hello\nbox\n/tmp\n", "CapEff:\t00000000a80425fb\n", "\n0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// nothing left behind. Read this thread's mount table, not the
	// process's: libcontainer (runc 1.2+) opens mount sources on a locked
	// thread that joins the container's mount namespace and is meant to
	// die; when that was the main thread, Go cannot end it, so /proc/self
	// (the main thread) can show the container's mounts for good.
	goruntime.LockOSThread()
	data, _ := os.ReadFile("/proc/thread-self/mountinfo")
	goruntime.UnlockOSThread()
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, bundle) {
			t.Errorf("still mounted after Delete: %s", l)
		}
	}
	if matches, _ := filepath.Glob("/sys/fs/cgroup/*/berth/" + s.ID); len(matches) > 0 {
		t.Errorf("cgroups left after Delete: %v", matches)
	}
	if _, err := os.Stat("/sys/fs/cgroup/berth/" + s.ID); err == nil {
		t.Errorf("cgroup v2 directory left after Delete")
	}
}

// TestJoinNetNS: a container given a network namespace made beforehand
// starts with what was put in it (here a bridge with an address), and the
// namespace outlives the container.
func TestJoinNetNS(t *testing.T) {
	rt, lowers, root := newRuntime(t)
	path := filepath.Join(root, "netns")
	ns, err := netns.CreateNamespace(path)
	if err != nil {
		t.Fatal(err)
	}
	defer netns.RemoveNamespace(path)
	h, err := netlink.NewHandleAt(ns)
	ns.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	subnet := netns.Subnet{Prefix: netip.MustParsePrefix("10.90.0.0/24"), Gateway: netip.MustParseAddr("10.90.0.1")}
	if err := netns.CreateBridge(h, "probe0", subnet, 0); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second container finds the namespace as the first left it
		s, bundle := newSpec(t, lowers, "cat", "/proc/net/dev")
		s.NetNS = path
		if code, out := run(t, rt, s, bundle); code != 0 || !strings.Contains(out, "probe0:") {
			t.Errorf("exit %d; the container's interfaces lack probe0:\n%s", code, out)
		}
	}
	s, bundle := newSpec(t, lowers, "cat", "/proc/net/dev")
	if _, out := run(t, rt, s, bundle); strings.Contains(out, "probe0") {
		t.Errorf("a container without NetNS sees the bridge:\n%s", out)
	}
}

// TestSeccompProfile: the default is Docker's allowlist, resolved against
// the container's capabilities.
func TestSeccompProfile(t *testing.T) {
	allowed := func(caps []string) map[string]bool {
		t.Helper()
		spec, err := ociSpec(Spec{ID: "x", CapAdd: caps}, "/")
		if err != nil {
			t.Fatal(err)
		}
		if !SeccompSupported {
			spec.Linux.Seccomp, err = seccompFilter(spec, "")
			if err != nil {
				t.Fatal(err)
			}
		}
		f := spec.Linux.Seccomp
		if f.DefaultAction != specs.ActErrno || len(f.Architectures) == 0 {
			t.Fatalf("default action %q, architectures %v: want Docker's allowlist", f.DefaultAction, f.Architectures)
		}
		names := map[string]bool{}
		for _, rule := range f.Syscalls {
			if rule.Action == specs.ActAllow && len(rule.Args) == 0 {
				for _, n := range rule.Names {
					names[n] = true
				}
			}
			// clone3's flags cannot be filtered (they sit behind a
			// pointer), so without CAP_SYS_ADMIN it fails with ENOSYS and
			// the C library falls back to clone, whose flags can be
			if slices.Contains(rule.Names, "clone3") && rule.Action == specs.ActErrno && *rule.ErrnoRet == uint(unix.ENOSYS) {
				names["clone3=ENOSYS"] = true
			}
		}
		return names
	}
	plain := allowed(nil)
	for _, call := range []string{"read", "openat", "execve", "futex", "clone3=ENOSYS"} {
		if !plain[call] {
			t.Errorf("%s is refused by the default profile", call)
		}
	}
	for _, call := range []string{"unshare", "setns", "mount", "kexec_load", "bpf", "reboot", "init_module", "clone3"} {
		if plain[call] {
			t.Errorf("%s is allowed by the default profile without the capability that guards it", call)
		}
	}
	admin := allowed([]string{"CAP_SYS_ADMIN"})
	for _, call := range []string{"mount", "unshare", "setns", "clone3"} {
		if !admin[call] {
			t.Errorf("%s is still refused with the capability that guards it", call)
		}
	}
	if err := CheckSeccompProfile(`{"defaultAction": "SCMP_ACT_NOPE"}`); err == nil {
		t.Error("a profile with an unknown action was accepted")
	}
	if err := CheckSeccompProfile(`{"defaultAction": `); err == nil {
		t.Error("a truncated profile was accepted")
	}
	if !SeccompSupported {
		t.Log("this test binary was built without the seccomp tag: the profile is checked, not enforced (make test builds with it)")
	}
}

// BenchmarkCreateStart is the runtime's own cost per container, in process:
// mount the rootfs, create, start `true`, wait, delete.
func BenchmarkCreateStart(b *testing.B) {
	fixture.RequireRoot(b, "namespaces, cgroups and overlay mounts")
	root := b.TempDir()
	lowers := busyboxLowers(b, root)
	rt, err := New(filepath.Join(root, "state"))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		bundle := filepath.Join(root, fmt.Sprintf("bundle-%d", i))
		s := Spec{
			ID:      fmt.Sprintf("berth-bench-%d-%d", os.Getpid(), i),
			Rootfs:  Rootfs{Lowers: lowers, Upper: filepath.Join(bundle, "upper"), Work: filepath.Join(bundle, "work")},
			Process: Process{Args: []string{"true"}, Env: []string{"PATH=/bin"}},
		}
		c, err := rt.Create(context.Background(), s, bundle)
		if err != nil {
			b.Fatal(err)
		}
		p, _, err := c.Start(IO{})
		if err != nil {
			b.Fatal(err)
		}
		if code, err := p.Wait(); err != nil || code != 0 {
			b.Fatalf("exit %d, %v", code, err)
		}
		if err := c.Delete(); err != nil {
			b.Fatal(err)
		}
	}
}
