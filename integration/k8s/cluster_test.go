package k8s

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/monitor"
)

// script is the cluster's lifecycle, the same one a developer runs by hand.
const script = "../../scripts/k8s-test-cluster.sh"

// clusterLock is the file test processes lock while they have the cluster.
const clusterLock = "/run/berth-test-k8s.lock"

// clusterMu lets one test at a time have the cluster: its links and
// state file have fixed names.
var clusterMu sync.Mutex

// cluster is a running single-node test cluster (scripts/k8s-test-cluster.sh start).
type cluster struct {
	Kubeconfig string
	Kubectl    string
	Registry   string // host:port of the loopback registry its containerd pulls from
	Node       string
	PauseImage string
}

// cacheDir is where `k8s-test-cluster.sh build` puts the binaries.
func cacheDir() string {
	if d := os.Getenv("BERTH_K8S_CACHE"); d != "" {
		return d
	}
	return "/var/cache/berth-test/k8s-v1.37.2"
}

// startCluster starts a fresh cluster for t and stops it, leaving nothing
// behind, when t ends (failed or not). Without root or without a built
// cache it skips, unless BERTH_TEST_K8S=1 asks for the Kubernetes tests:
// then it builds a missing cache (tens of minutes) and fails rather than
// skip.
func startCluster(t testing.TB) *cluster {
	t.Helper()
	wanted := os.Getenv("BERTH_TEST_K8S") == "1"
	if os.Geteuid() != 0 {
		if wanted {
			t.Fatal("BERTH_TEST_K8S=1: the Kubernetes test cluster needs root")
		}
		t.Skip("the Kubernetes test cluster needs root")
	}
	if err := exec.Command(script, "built").Run(); err != nil {
		if !wanted {
			t.Skipf("no Kubernetes test cluster built in %s: run scripts/k8s-test-cluster.sh build (tens of minutes), or set BERTH_TEST_K8S=1", cacheDir())
		}
		// go test's default 10 minutes would end the build half way
		if tt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok && tooSoon(tt) {
			t.Fatalf("BERTH_TEST_K8S=1 and no cache in %s: its build takes tens of minutes; run scripts/k8s-test-cluster.sh build first, or go test -timeout 90m", cacheDir())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 80*time.Minute)
		defer cancel()
		if out, err := runScript(ctx, "build"); err != nil {
			t.Fatalf("building the test cluster: %v\n%s", err, out)
		}
	}
	clusterMu.Lock()
	t.Cleanup(clusterMu.Unlock)
	// and one test process at a time: two go test runs (or a developer's
	// cluster) would otherwise meet in the script's refusal to start
	lock, err := os.OpenFile(clusterLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		t.Fatalf("waiting for the test cluster's lock %s: %v", clusterLock, err)
	}
	t.Cleanup(func() { lock.Close() })
	// stop is registered before start runs, so that a start that fails
	// half way is cleaned up too
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := runScript(ctx, "stop"); err != nil {
			t.Errorf("stopping the test cluster: %v\n%s", err, out)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, script, "start")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("starting the test cluster: %v\n%s", err, stderr.String())
	}
	t.Logf("cluster up in %s", time.Since(start).Round(100*time.Millisecond))
	c := &cluster{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if !ok {
			continue
		}
		switch k {
		case "KUBECONFIG":
			c.Kubeconfig = v
		case "KUBECTL":
			c.Kubectl = v
		case "REGISTRY":
			c.Registry = v
		case "NODE_NAME":
			c.Node = v
		case "PAUSE_IMAGE":
			c.PauseImage = v
		}
	}
	if c.Kubeconfig == "" || c.Kubectl == "" || c.Registry == "" {
		t.Fatalf("start printed no KUBECONFIG, KUBECTL or REGISTRY:\n%s", out)
	}
	return c
}

func runScript(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, script, args...)
	return cmd.CombinedOutput()
}

// kubectl runs kubectl against the cluster, failing t when it fails.
func (c *cluster) kubectl(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, err := c.tryKubectl(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (c *cluster) tryKubectl(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Kubectl, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// pushBusybox makes an image of busybox-static with berth and pushes it to
// the cluster's registry, where the node pulls it from.
func (c *cluster) pushBusybox(t testing.TB, repo string) string {
	t.Helper()
	const busybox = "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		t.Fatalf("%s: %v (apt-get install busybox-static; scripts/deps.sh does)", busybox, err)
	}
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"sh", "sleep", "cat", "ip", "mkdir", "httpd", "nc", "nslookup"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", tool)); err != nil {
			t.Fatal(err)
		}
	}
	ref := c.Registry + "/" + repo + ":1"
	root := stateRoot(t)
	berth(t, root, "image", "import", "-c", `CMD ["sh"]`, "-c", "ENV PATH=/bin", rootfs, ref)
	berth(t, root, "image", "push", ref)
	return ref
}

// stateRoot is a berth state root (--root) for t, removed when t ends
// with the run directory berth keeps for it under /run/berth.
func stateRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(monitor.RunDir(root))) })
	return root
}

// berth runs berth --root ROOT ARGS on this machine, failing t unless it
// exits 0, and returns its stdout.
func berth(t testing.TB, root string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, errOut, code := runBerth(ctx, "", nil, append([]string{"--root", root}, args...)...)
	if code != 0 {
		t.Fatalf("berth %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// tooSoon says whether a test's deadline (go test -timeout) comes before
// the cluster's build could end.
func tooSoon(t interface{ Deadline() (time.Time, bool) }) bool {
	deadline, ok := t.Deadline()
	return ok && time.Until(deadline) < 60*time.Minute
}
