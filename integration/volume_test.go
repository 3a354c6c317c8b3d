package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestVolumes(t *testing.T) {
	root, run := busyboxRoot(t)
	ok := func(r result) result {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		return r
	}
	// a named volume outlives containers and is shared between them
	ok(run("volume", "create", "--label", "team=web", "data"))
	ok(run("container", "run", "--rm", "-v", "data:/data", "bb:1", "sh", "-c", "echo kept > /data/f"))
	if out := ok(run("container", "run", "--rm", "-v", "data:/data:ro", "bb:1", "cat", "/data/f")).stdout; out != "kept\n" {
		t.Errorf("second container read %q", out)
	}
	if r := run("container", "run", "--rm", "-v", "data:/data:ro", "bb:1", "touch", "/data/x"); r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Errorf(":ro write: %d %q", r.code, r.stderr)
	}
	// copy-up: the image's /etc, owners and modes kept, into an empty volume only
	out := ok(run("container", "run", "--rm", "-v", "etc:/etc", "bb:1", "sh", "-c", "stat -c '%a %u' /etc /etc/passwd; echo changed > /etc/passwd")).stdout
	if out != "755 0\n644 0\n" {
		t.Errorf("copied-up /etc: %q", out)
	}
	if out := ok(run("container", "run", "--rm", "-v", "etc:/etc", "bb:1", "cat", "/etc/passwd")).stdout; out != "changed\n" {
		t.Errorf("a volume holding data was overwritten: %q", out)
	}
	if out := ok(run("container", "run", "--rm", "-v", "empty:/etc:nocopy", "bb:1", "sh", "-c", "ls /etc | grep -c passwd; true")).stdout; out != "0\n" {
		t.Errorf("nocopy copied: %q", out)
	}
	// a bind mount seen both ways; --mount tmpfs with a size
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "in"), []byte("from host\n"), 0o644)
	if out := ok(run("container", "run", "--rm", "-v", host+":/mnt", "bb:1", "sh", "-c", "cat /mnt/in; echo from container > /mnt/out")).stdout; out != "from host\n" {
		t.Errorf("bind read: %q", out)
	}
	if data, _ := os.ReadFile(filepath.Join(host, "out")); string(data) != "from container\n" {
		t.Errorf("bind write: %q", data)
	}
	if r := run("container", "run", "--rm", "--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m", "bb:1", "sh", "-c", "head -c 2000000 /dev/zero > /scratch/f"); r.code == 0 {
		t.Error("a 1 MB tmpfs took 2 MB")
	}
	// in use: refused; anonymous volumes go with rm -v, named ones stay
	ok(run("container", "run", "-d", "--name", "user", "-v", "data:/data", "-v", "/anon", "bb:1", "sleep", "60"))
	if r := run("volume", "rm", "data"); r.code == 0 || !strings.Contains(r.stderr, "volume is in use - [user]") {
		t.Errorf("volume rm of a volume in use: %d %q", r.code, r.stderr)
	}
	before := strings.Fields(ok(run("volume", "ls", "-q")).stdout)
	ok(run("container", "rm", "-f", "-v", "user"))
	after := strings.Fields(ok(run("volume", "ls", "-q")).stdout)
	if len(after) != len(before)-1 || !strings.Contains(strings.Join(after, " "), "data") {
		t.Errorf("rm -v: volumes %v -> %v, want only the anonymous one gone", before, after)
	}
	if out := ok(run("volume", "ls", "--filter", "label=team=web", "--format", "{{.Name}}")).stdout; out != "data\n" {
		t.Errorf("ls --filter label: %q", out)
	}
	// bad input: one line, exit 125, nothing made
	for _, args := range [][]string{{"-v", "bad/name:/x"}, {"-v", "data:relative"}, {"--mount", "type=bind,source=/nonexistent,target=/x"}, {"--mount", "type=nfs,target=/x"}} {
		if r := run(append(append([]string{"container", "run", "--rm"}, args...), "bb:1", "true")...); r.code != 125 || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("run %v: exit %d, %q", args, r.code, r.stderr)
		}
	}
	if r := run("volume", "create", "bad/name"); r.code == 0 {
		t.Error("created a volume with a / in its name")
	}
	if out := ok(run("volume", "prune", "-a", "-f")).stdout; !strings.Contains(out, "data") {
		t.Errorf("prune -a: %q", out)
	}
	if out := ok(run("volume", "ls", "-q")).stdout; out != "" {
		t.Errorf("volumes left after prune -a: %q", out)
	}
	noLeftovers(t, root)
}

// TestAnonymousVolumesGoWithRunRm: run --rm takes the anonymous volumes
// it made (the image's VOLUME too) and leaves named ones.
func TestAnonymousVolumesGoWithRunRm(t *testing.T) {
	_, run := busyboxRoot(t)
	run("container", "run", "--rm", "-v", "/scratch", "-v", "named:/named", "bb:1", "true")
	if out := run("volume", "ls", "-q").stdout; out != "named\n" {
		t.Errorf("after run --rm: volumes %q, want only named", out)
	}
	run("volume", "rm", "named")
}

// TestVolumesFrom: --volumes-from mounts another container's volumes and
// binds at the same places, read-only with :ro.
func TestVolumesFrom(t *testing.T) {
	root, run := busyboxRoot(t)
	host := t.TempDir()
	run("container", "create", "--name", "store", "-v", "shared:/shared", "-v", host+":/hostdir", "bb:1", "true")
	if r := run("container", "run", "--rm", "--volumes-from", "store", "bb:1", "sh", "-c", "echo a > /shared/a; echo b > /hostdir/b"); r.code != 0 {
		t.Fatalf("volumes-from: %q", r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(host, "b")); string(data) != "b\n" {
		t.Errorf("the bind was not shared: %q", data)
	}
	if r := run("container", "run", "--rm", "--volumes-from", "store:ro", "bb:1", "sh", "-c", "cat /shared/a; touch /shared/x"); r.stdout != "a\n" || !strings.Contains(r.stderr, "Read-only") {
		t.Errorf("volumes-from :ro: %q %q", r.stdout, r.stderr)
	}
	if r := run("container", "run", "--rm", "--volumes-from", "ghost", "bb:1", "true"); r.code != 125 || !strings.Contains(r.stderr, "no such container: ghost") {
		t.Errorf("unknown --volumes-from: %d %q", r.code, r.stderr)
	}
	run("container", "rm", "store")
	run("volume", "rm", "shared")
	noLeftovers(t, root)
}

// TestVolumeDriverOptions: the local driver's type=tmpfs and o=bind,device=
// options make a tmpfs and a bind of a host directory. A tmpfs volume is
// one file system, shared by the containers that use it, as in Docker,
// and goes (unmounted) with volume rm.
func TestVolumeDriverOptions(t *testing.T) {
	root, run := busyboxRoot(t)
	host := t.TempDir()
	run("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "tv")
	run("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device="+host, "bv")
	out := run("container", "run", "--rm", "-v", "tv:/t", "-v", "bv:/b", "bb:1", "sh", "-c", "grep -o ' /t tmpfs [^ ]*size=1024k' /proc/mounts; echo via-volume > /b/f").stdout
	if !strings.Contains(out, " /t tmpfs ") {
		t.Errorf("tmpfs volume: %q", out)
	}
	if data, _ := os.ReadFile(filepath.Join(host, "f")); string(data) != "via-volume\n" {
		t.Errorf("bind volume: %q", data)
	}
	run("container", "run", "--rm", "-v", "tv:/t", "bb:1", "sh", "-c", "echo shared > /t/note")
	if got := run("container", "run", "--rm", "-v", "tv:/t", "bb:1", "cat", "/t/note").stdout; got != "shared\n" {
		t.Errorf("a tmpfs volume between two containers: %q", got)
	}
	if r := run("volume", "create", "-o", "o=bind", "-o", "device=/nonexistent", "badbind"); r.code == 0 {
		t.Error("a bind volume of a missing directory was created")
	}
	run("volume", "rm", "tv", "bv")
	if _, err := os.Stat(filepath.Join(host, "f")); err != nil {
		t.Errorf("removing a bind volume touched the host directory: %v", err)
	}
	noLeftovers(t, root)
}

func TestInspectMounts(t *testing.T) {
	root, run := busyboxRoot(t)
	host := t.TempDir()
	run("container", "create", "--name", "m1", "-v", "named:/data", "-v", host+":/h:ro", "--tmpfs", "/tmp2", "bb:1", "true")
	// as in Docker, Name is there only for volumes (a missing key prints <no value>)
	out := run("container", "inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}};{{end}}", "m1").stdout
	for _, want := range []string{"volume named /data true;", "bind <no value> /h false;", "tmpfs <no value> /tmp2 true;"} {
		if !strings.Contains(out, want) {
			t.Errorf("Mounts %q lacks %q", out, want)
		}
	}
	run("container", "rm", "m1")
	run("volume", "rm", "named")
	noLeftovers(t, root)
}

// TestVolumeDeviceMount: a volume of the local driver with a file system
// type and a device (type=ext4,device=/dev/loopN) is that device, mounted
// on the host and shared by the containers that use it, as Docker's local
// driver mounts it; before, berth accepted the options and gave the
// container an empty directory instead. The data stays on the device after
// volume rm, which only unmounts it. A tmpfs volume over a directory of
// the image gets the image's files (copy-up), as a plain volume does.
func TestVolumeDeviceMount(t *testing.T) {
	root, run := busyboxRoot(t)
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("mkfs.ext4 not installed (e2fsprogs)")
	}
	img := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 16<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	data := filepath.Join(root, "volumes", "dv", "_data")
	t.Cleanup(func() {
		run("volume", "rm", "-f", "dv")
		unix.Unmount(data, unix.MNT_DETACH) // only if the test failed before volume rm
	})

	run("volume", "create", "-o", "type=ext4", "-o", "device="+dev, "dv")
	got := run("container", "run", "--rm", "-v", "dv:/d", "bb:1", "sh", "-c", "test -d /d/lost+found && echo fresh-ext4; echo on-device > /d/f")
	if got.stdout != "fresh-ext4\n" {
		t.Errorf("the container's /d is not the ext4 device: %q %q", got.stdout, got.stderr)
	}
	if got := run("container", "run", "--rm", "-v", "dv:/d", "bb:1", "cat", "/d/f").stdout; got != "on-device\n" {
		t.Errorf("a device volume between two containers: %q", got)
	}
	if r := run("volume", "rm", "dv"); r.code != 0 {
		t.Fatalf("volume rm: %s", r.stderr)
	}
	// volume rm unmounted it: the device mounts elsewhere, data intact
	mnt := t.TempDir()
	if err := unix.Mount(dev, mnt, "ext4", 0, ""); err != nil {
		t.Fatalf("mounting the device after volume rm: %v", err)
	}
	content, err := os.ReadFile(filepath.Join(mnt, "f"))
	unix.Unmount(mnt, 0)
	if string(content) != "on-device\n" {
		t.Errorf("the device holds %q, %v", content, err)
	}

	run("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "tc")
	if got := run("container", "run", "--rm", "-v", "tc:/etc", "bb:1", "cat", "/etc/notexec"); got.stdout != "x" {
		t.Errorf("a tmpfs volume over the image's /etc: %q %q", got.stdout, got.stderr)
	}
	run("volume", "rm", "tc")
	noLeftovers(t, root)
}
