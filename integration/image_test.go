package integration

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/registrytest"
	"github.com/berth-dev/berth/internal/testimage"
)

func requireRoot(t testing.TB) {
	fixture.RequireRoot(t, "snapshots keep owners, device nodes and overlay xattrs")
}

// TestImageCommands drives the image commands as a user would: import a
// root filesystem, push it, remove it, pull it back, tag, list, inspect,
// save, load and prune.
func TestImageCommands(t *testing.T) {
	requireRoot(t)
	host := registrytest.Start(t, nil)
	root := t.TempDir()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "bin", "hello"), []byte("#!/bin/sh\necho hello\n"), 0o755)
	ref := host + "/demo/hello:1"
	run := func(stdin string, args ...string) result {
		t.Helper()
		return berth(t, dir, stdin, append([]string{"--root", root}, args...)...)
	}
	ok := func(r result) result {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		return r
	}

	id := strings.TrimSpace(ok(run("", "image", "import", "-c", `CMD ["/bin/hello"]`, rootfs, ref)).stdout)
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("import printed %q, want the image ID", id)
	}
	if out := ok(run("", "image", "push", ref)).stdout; !strings.Contains(out, ": Pushed") || !strings.Contains(out, "1: digest: sha256:") {
		t.Errorf("push output:\n%s", out)
	}
	if out := ok(run("", "image", "rm", ref)).stdout; out != "Untagged: "+ref+"\nDeleted: "+id+"\n" {
		t.Errorf("rm output %q", out)
	}
	pull := ok(run("", "image", "pull", ref)).stdout
	if !strings.HasSuffix(pull, "Status: Downloaded newer image for "+ref+"\n"+ref+"\n") {
		t.Errorf("pull output:\n%s", pull)
	}
	if out := ok(run("", "image", "pull", "-q", ref)).stdout; out != ref+"\n" {
		t.Errorf("pull -q printed %q", out)
	}
	ok(run("", "image", "tag", ref, "hello:latest"))
	ls := ok(run("", "image", "ls")).stdout
	lines := strings.Split(strings.TrimSpace(ls), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "REPOSITORY") || !strings.Contains(ls, id[7:19]) {
		t.Errorf("image ls:\n%s", ls)
	}
	if out := ok(run("", "image", "ls", "-q")).stdout; out != id[7:19]+"\n" {
		t.Errorf("image ls -q = %q, want the one ID once", out)
	}
	if out := ok(run("", "image", "ls", "--filter", "reference=hello", "--format", "{{.Repository}}:{{.Tag}}")).stdout; out != "hello:latest\n" {
		t.Errorf("filtered ls = %q", out)
	}
	if out := ok(run("", "image", "inspect", "-f", "{{.Id}} {{index .Config.Cmd 0}}", "hello")).stdout; out != id+" /bin/hello\n" {
		t.Errorf("inspect -f = %q", out)
	}
	archive := filepath.Join(dir, "hello.tar")
	ok(run("", "image", "save", "-o", archive, "hello"))
	ok(run("", "image", "rm", "-f", id))
	if out := ok(run("", "image", "load", "-i", archive)).stdout; out != "Loaded image: hello:latest\n" {
		t.Errorf("load printed %q", out)
	}
	if out := ok(run("y\n", "image", "prune", "-a")).stdout; !strings.Contains(out, "deleted: "+id) || !strings.Contains(out, "Total reclaimed space:") {
		t.Errorf("prune output:\n%s", out)
	}
	if blobs, _ := os.ReadDir(filepath.Join(root, "images", "blobs", "sha256")); len(blobs) != 0 {
		t.Errorf("%d blobs left after prune -a", len(blobs))
	}
	if snaps, _ := os.ReadDir(filepath.Join(root, "snapshots")); len(snaps) != 0 {
		t.Errorf("snapshots left after prune -a: %v", snaps)
	}

	// Bad input: one line, the right exit code, nothing changed.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"image", "rm", "nosuch"}, 1, "no such image: nosuch"},
		{[]string{"image", "pull", host + "/nosuch:1"}, 1, "not found"},
		{[]string{"image", "pull", "Bad//Ref"}, 1, "invalid reference format"},
		{[]string{"image", "tag", "onlyone"}, 125, "requires exactly 2 argument"},
		{[]string{"image", "load", "-i", rootfs + "/bin/hello"}, 1, "archive"},
		{[]string{"image", "import", "-c", "RUN make", rootfs}, 1, "RUN is not an instruction import can apply"},
	} {
		r := run("", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("berth %v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	if out := ok(run("", "image", "ls", "-q")).stdout; out != "" {
		t.Errorf("bad input left images: %q", out)
	}
}

// TestPullKilled: a pull killed with SIGKILL mid-download leaves no
// reference and no blob that does not match its digest, and the next pull
// completes.
func TestPullKilled(t *testing.T) {
	requireRoot(t)
	host := registrytest.Start(t, nil)
	noise := make([]byte, 64<<20)
	rand.Read(noise)
	img, err := mutate.AppendLayers(testimage.Busybox(t), testimage.Layer(t, testimage.Entry{Name: "noise", Body: string(noise)}))
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/big:1"
	r, _ := name.ParseReference(ref, name.Insecure)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cmd := exec.Command(berthBin, "--root", root, "image", "pull", ref)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// kill once the big layer is being written
	ingest := filepath.Join(root, "images", "ingest")
	deadline := time.Now().Add(30 * time.Second)
	for killed := false; !killed; {
		entries, _ := os.ReadDir(ingest)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && !strings.HasSuffix(e.Name(), ".lock") && info.Size() > 1<<20 {
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the pull never started writing the big layer")
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Wait()

	index, _ := os.ReadFile(filepath.Join(root, "images", "index.json"))
	if strings.Contains(string(index), "big") {
		t.Errorf("a killed pull left a reference: %s", index)
	}
	blobs := filepath.Join(root, "images", "blobs", "sha256")
	entries, _ := os.ReadDir(blobs)
	for _, e := range entries {
		f, _ := os.Open(filepath.Join(blobs, e.Name()))
		h := sha256.New()
		io.Copy(h, f)
		f.Close()
		if hex.EncodeToString(h.Sum(nil)) != e.Name() {
			t.Errorf("blob %s does not match its digest", e.Name())
		}
	}
	if r := berth(t, t.TempDir(), "", "--root", root, "image", "pull", "-q", ref); r.code != 0 || r.stdout != ref+"\n" {
		t.Fatalf("pull after the kill: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	if r := berth(t, t.TempDir(), "", "--root", root, "image", "inspect", "-f", "{{len .RootFS.Layers}}", ref); r.stdout != "2\n" {
		t.Errorf("pulled image has %q layers", r.stdout)
	}
}
