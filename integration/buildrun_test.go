package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageBuildRunOptions: image build's flags for RUN steps, as docker
// build's: --secret (a file, mounted by the RUN that asks for it, in no
// layer), --add-host, --ulimit, --shm-size, --network none, --allow
// security.insecure; a cache mount keeps its files between builds, even
// with --no-cache; and
// the built image's files are what the steps wrote.
func TestImageBuildRunOptions(t *testing.T) {
	root, run := busyboxRoot(t)
	keepForwarding(t)
	secret := filepath.Join(t.TempDir(), "token")
	os.WriteFile(secret, []byte("hush-hush"), 0o600)
	ctx := project(t, map[string]string{"Dockerfile": `FROM bb:1
RUN --mount=type=secret,id=tok busybox wc -c < /run/secrets/tok > /secret-len
RUN --mount=type=cache,target=/cache sh -c 'echo run >> /cache/runs; busybox wc -l < /cache/runs > /runs'
RUN cat /etc/hosts > /hosts; ulimit -n > /nofile; busybox df -k /dev/shm | busybox tail -1 | busybox awk '{print $2}' > /shm
RUN busybox ip -o link | busybox cut -d: -f2 > /links
RUN --security=insecure busybox grep CapEff /proc/self/status > /caps
CMD ["sh", "-c", "cat /secret-len /runs /nofile /shm /links; busybox grep 10.9.8.7 /hosts; cat /caps"]
`})
	flags := []string{"image", "build", "--secret", "id=tok,src=" + secret, "--add-host", "db:10.9.8.7", "--ulimit", "nofile=512:1024",
		"--shm-size", "32m", "--network", "none", "--allow", "security.insecure", "-t", "opts:1", ctx}
	if r := run(flags...); r.code != 0 {
		t.Fatalf("build: exit %d\n%s", r.code, r.stderr)
	}
	// the step cache would take every step of an unchanged second build;
	// --no-cache runs them, and the cache mount keeps its files all the
	// same, as BuildKit's does
	if r := run(append([]string{"image", "build", "--no-cache"}, flags[2:]...)...); r.code != 0 {
		t.Fatalf("second build: exit %d\n%s", r.code, r.stderr)
	}
	out := run("container", "run", "--rm", "opts:1")
	want := "9\n2\n512\n32768\n lo\n10.9.8.7\tdb\n"
	if out.code != 0 || !strings.HasPrefix(out.stdout, want) || strings.Contains(out.stdout, "a80425fb") {
		t.Errorf("run: exit %d, output %q, want %q then a privileged CapEff\n%s", out.code, out.stdout, want, out.stderr)
	}
	if r := run("image", "save", "opts:1"); strings.Contains(r.stdout, "hush-hush") {
		t.Errorf("the saved image holds the secret")
	}
	// without --allow the insecure RUN is refused, and with a bad flag
	// nothing runs
	r := run("image", "build", "--secret", "id=tok,src="+secret, "-t", "opts:2", ctx)
	if r.code == 0 || !strings.Contains(r.stderr, "security.insecure is not allowed") {
		t.Errorf("build without --allow: exit %d\n%s", r.code, r.stderr)
	}
	if r := run("image", "build", "--secret", "src=/x", ctx); r.code == 0 || !strings.Contains(r.stderr, "secret missing ID") {
		t.Errorf("--secret without an id: exit %d\n%s", r.code, r.stderr)
	}
	noLeftovers(t, root)
}
