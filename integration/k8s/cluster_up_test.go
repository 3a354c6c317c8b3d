package k8s

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKubeClusterUp starts the test cluster, runs a 2-replica Deployment of
// an image berth pushed to the cluster's loopback registry, reads a pod's
// log and runs a command in it (the API server reaching the kubelet on the
// node IP), checks that the pod has no route off the machine and that an
// image named as on Docker Hub is pulled from the loopback registry, then
// that stopping the cluster left nothing behind.
func TestKubeClusterUp(t *testing.T) {
	var state string
	// registered first, so it runs after the cluster's stop
	t.Cleanup(func() {
		if state != "" {
			assertClusterGone(t, state)
		}
	})
	c := startCluster(t)
	state = filepath.Dir(c.Kubeconfig)

	ns := uniqueName("berth-up-")
	image := c.pushBusybox(t, ns+"/web")
	c.kubectl(t, "", "create", "namespace", ns)
	manifest := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: %s
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %s
        command: ["sh", "-c", "echo started $HOSTNAME; mkdir -p /tmp/www && echo hello from $HOSTNAME >/tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]
`, ns, image)
	began := time.Now()
	c.kubectl(t, manifest, "apply", "-f", "-")
	if out, err := c.tryKubectl("", "-n", ns, "rollout", "status", "deployment/web", "--timeout=3m"); err != nil {
		describe, _ := c.tryKubectl("", "-n", ns, "describe", "pods")
		t.Fatalf("rollout: %v\n%s\n%s", err, out, describe)
	}
	t.Logf("2-replica Deployment Ready in %s", time.Since(began).Round(100*time.Millisecond))

	out := c.kubectl(t, "", "-n", ns, "get", "pods", "-l", "app=web", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.spec.nodeName} {.status.podIP}{"\n"}{end}`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 pods, got:\n%s", out)
	}
	_, pods, _ := net.ParseCIDR("10.237.0.0/24")
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 4 || f[1] != "Running" || f[2] != c.Node || !pods.Contains(net.ParseIP(f[3])) {
			t.Errorf("pod not running on %s with an address of the pod bridge: %q", c.Node, l)
		}
	}
	pod := strings.Fields(lines[0])[0]
	// logs and exec go from the API server to the kubelet, on the node's
	// InternalIP
	if logs := c.kubectl(t, "", "-n", ns, "logs", pod); !strings.Contains(logs, "started "+pod) {
		t.Errorf("logs of %s: %q, want %q", pod, logs, "started "+pod)
	}
	if got := c.kubectl(t, "", "-n", ns, "exec", pod, "--", "cat", "/proc/1/cmdline"); !strings.Contains(got, "httpd") {
		t.Errorf("exec in %s: pid 1 is %q, want httpd", pod, got)
	}
	// an image named as on Docker Hub comes from the loopback registry:
	// no pull leaves the machine
	c.kubectl(t, "", "-n", ns, "run", "hub", "--image="+ns+"/web:1", "--restart=Never", "--command", "--", "sleep", "3600")
	out, err := c.tryKubectl("", "-n", ns, "wait", "--for=condition=Ready", "pod/hub", "--timeout=2m")
	if err != nil {
		describe, _ := c.tryKubectl("", "-n", ns, "describe", "pod", "hub")
		t.Fatalf("pod of %s/web:1 (docker.io) not Ready: %v\n%s\n%s", ns, err, out, describe)
	}
	// another pod reaches the Deployment by its Service's name: the
	// cluster's DNS and kube-proxy
	c.kubectl(t, "", "-n", ns, "expose", "deployment", "web", "--port=80", "--target-port=8080")
	var got string
	for i := 0; i < 60; i++ {
		// (busybox-static's wget crashes in a container; its nc does not)
		got, err = c.tryKubectl("", "-n", ns, "exec", "hub", "--", "sh", "-c", `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 web 80`)
		if err == nil && strings.Contains(got, "hello from web-") {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil || !strings.Contains(got, "hello from web-") {
		t.Errorf("http://web/ from pod hub: %q, %v; want a page of a web pod", got, err)
	}
	// a pod reaches the cluster's addresses only: nothing it sends leaves
	// the machine
	if routes := c.kubectl(t, "", "-n", ns, "exec", pod, "--", "ip", "route"); strings.Contains(routes, "default") {
		t.Errorf("pod %s has a default route:\n%s", pod, routes)
	}
}

// assertClusterGone checks what stop must have removed: the links,
// kube-proxy's tables, the state dir and its mounts, the processes that ran
// from it.
func assertClusterGone(t *testing.T, state string) {
	t.Helper()
	for _, link := range []string{"berthk8s0", "berthk8sbr0"} {
		if err := exec.Command("ip", "link", "show", link).Run(); err == nil {
			t.Errorf("link %s left after stop", link)
		}
	}
	for _, family := range []string{"ip", "ip6"} {
		if err := exec.Command("nft", "list", "table", family, "kube-proxy").Run(); err == nil {
			t.Errorf("nftables table %s kube-proxy left after stop", family)
		}
	}
	if _, err := os.Stat(state); err == nil {
		t.Errorf("state dir %s left after stop", state)
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(mi), state) {
		t.Errorf("mounts under %s left after stop", state)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(cmdline), state) {
			t.Errorf("process %s left after stop: %s", filepath.Base(filepath.Dir(p)), strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	if _, err := os.Stat("/run/berth-test-k8s.env"); err == nil {
		t.Error("/run/berth-test-k8s.env left after stop")
	}
}
