package integration

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// tarFiles reads a tar archive: each entry's name (cleaned of "./"),
// with a regular file's content.
func tarFiles(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	files := map[string]string{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("reading the archive: %v", err)
		}
		body, _ := io.ReadAll(tr)
		files[strings.TrimPrefix(strings.TrimSuffix(hdr.Name, "/"), "./")] = string(body)
	}
}

func tarFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the output archive: %v", err)
	}
	defer f.Close()
	return tarFiles(t, f)
}

// TestImageBuildOutput: -o writes what docker buildx's exporters write: a
// Docker archive that image load reads back (and that runs), an OCI
// layout tarball, the root filesystem as a tar (to a file or standard
// output) or into a directory. Without -t the image is not kept in the
// store; with -t it is. --platform takes this machine's platform only.
func TestImageBuildOutput(t *testing.T) {
	_, run := busyboxRoot(t)
	ctx := project(t, map[string]string{
		"Dockerfile": "FROM bb:1\nCOPY hello.txt /hello.txt\nRUN rm /etc/notexec && echo ran > /ran\nCMD [\"cat\", \"/hello.txt\", \"/ran\"]\n",
		"hello.txt":  "hello\n",
	})
	out := t.TempDir()

	// type=docker: loaded back after image rm, it runs
	docker := filepath.Join(out, "image.tar")
	if r := run("image", "build", "-t", "out:1", "-o", "type=docker,dest="+docker, "--platform", "linux/amd64", ctx); r.code != 0 {
		t.Fatalf("build -o type=docker: exit %d\n%s", r.code, r.stderr)
	}
	if r := run("image", "rm", "out:1"); r.code != 0 {
		t.Fatalf("image rm: exit %d\n%s", r.code, r.stderr)
	}
	if r := run("image", "load", "-i", docker); r.code != 0 || !strings.Contains(r.stdout, "Loaded image: out:1") {
		t.Fatalf("image load: exit %d, %q\n%s", r.code, r.stdout, r.stderr)
	}
	if r := run("container", "run", "--rm", "out:1"); r.stdout != "hello\nran\n" {
		t.Errorf("the loaded image: exit %d, output %q\n%s", r.code, r.stdout, r.stderr)
	}
	// the loaded image has a manifest of its own (Docker's form) for the
	// same ID: a build of it without -t finds its ID one image, not two
	if r := run("image", "build", "-q", ctx); r.code != 0 {
		t.Errorf("build again without -t: exit %d\n%s", r.code, r.stderr)
	}
	if r := run("image", "rm", "out:1"); r.code != 0 {
		t.Fatalf("image rm of the loaded image: exit %d\n%s", r.code, r.stderr)
	}

	// type=oci without -t: an OCI layout, and no image left in the store
	oci, iid := filepath.Join(out, "oci.tar"), filepath.Join(out, "iid")
	if r := run("image", "build", "--iidfile", iid, "-o", "type=oci,dest="+oci, ctx); r.code != 0 {
		t.Fatalf("build -o type=oci: exit %d\n%s", r.code, r.stderr)
	}
	files := tarFile(t, oci)
	var names []string
	for n := range files {
		if !strings.HasPrefix(n, "blobs/") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "index.json oci-layout" {
		t.Errorf("the OCI archive holds %v besides its blobs, want index.json and oci-layout", names)
	}
	var index struct {
		Manifests []struct{ MediaType, Digest string }
	}
	if err := json.Unmarshal([]byte(files["index.json"]), &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, files["index.json"])
	}
	if m := index.Manifests[0]; m.MediaType != "application/vnd.oci.image.manifest.v1+json" || files["blobs/"+strings.Replace(m.Digest, ":", "/", 1)] == "" {
		t.Errorf("index.json names %+v, which the archive lacks", m)
	}
	id, _ := os.ReadFile(iid)
	if r := run("image", "inspect", string(id)); r.code == 0 || len(id) == 0 {
		t.Errorf("build -o without -t left the image %q in the store", id)
	}

	// type=tar: the root filesystem, the removed file gone, no whiteout
	rootTar := filepath.Join(out, "rootfs.tar")
	if r := run("image", "build", "-o", "type=tar,dest="+rootTar, ctx); r.code != 0 {
		t.Fatalf("build -o type=tar: exit %d\n%s", r.code, r.stderr)
	}
	checkRootfs := func(what string, files map[string]string) {
		t.Helper()
		if files["hello.txt"] != "hello\n" || files["ran"] != "ran\n" || files["etc/passwd"] == "" {
			t.Errorf("%s: hello.txt %q, ran %q, etc/passwd %q", what, files["hello.txt"], files["ran"], files["etc/passwd"])
		}
		for n := range files {
			if n == "etc/notexec" || strings.Contains(n, ".wh.") {
				t.Errorf("%s holds %s", what, n)
			}
		}
	}
	checkRootfs("type=tar", tarFile(t, rootTar))

	// -o - is a tar on standard output; -o DIR the files in DIR
	r := run("image", "build", "-o", "-", ctx)
	if r.code != 0 {
		t.Fatalf("build -o -: exit %d\n%s", r.code, r.stderr)
	}
	checkRootfs("-o -", tarFiles(t, bytes.NewReader([]byte(r.stdout))))
	dir := filepath.Join(out, "rootfs")
	if r := run("image", "build", "-o", dir, ctx); r.code != 0 {
		t.Fatalf("build -o DIR: exit %d\n%s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "hello.txt")); string(b) != "hello\n" {
		t.Errorf("-o DIR: hello.txt %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "etc", "notexec")); err == nil {
		t.Errorf("-o DIR: etc/notexec is there")
	}
	if ls := run("image", "ls", "-q", "--filter", "dangling=true"); ls.stdout != "" {
		t.Errorf("builds with -o and without -t left images: %q", ls.stdout)
	}

	// the native platform, as containerd normalizes it; another refused
	if r := run("image", "build", "-q", "--platform", "linux/x86_64", ctx); r.code != 0 {
		t.Errorf("--platform linux/x86_64: exit %d\n%s", r.code, r.stderr)
	}
	r = run("image", "build", "--platform", "linux/arm64", ctx)
	if want := "berth: platform linux/arm64 is not this machine's (linux/amd64): berth's builder builds for the native platform only, without emulation\n"; r.code != 125 || r.stderr != want {
		t.Errorf("--platform linux/arm64: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
	r = run("image", "build", "-o", "type=registry", ctx)
	if r.code != 125 || !strings.Contains(r.stderr, "output type registry is not supported by berth's builder yet") {
		t.Errorf("-o type=registry: exit %d\n%s", r.code, r.stderr)
	}
}
