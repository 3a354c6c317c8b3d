package k8s

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKubeBenchUp measures, and reports without asserting a time (set
// BERTH_K8S_BENCH=1): berth --context C up -d --wait of a 10-service stack
// to Ready; the same manifests (berth convert's) applied with kubectl apply
// -f and waited for with kubectl rollout status for each Deployment; and
// berth up with nothing changed.
func TestKubeBenchUp(t *testing.T) {
	if os.Getenv("BERTH_K8S_BENCH") != "1" {
		t.Skip("a benchmark: BERTH_K8S_BENCH=1 runs it")
	}
	c := startCluster(t)
	project := uniqueName("bench")
	image := c.pushBusybox(t, project+"/box")
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range 10 {
		fmt.Fprintf(&b, `  s%d:
    image: %s
    command: ["sh", "-c", "mkdir -p /tmp/www && echo s%d >/tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]
    expose: ["8080"]
    stop_grace_period: 1s
`, i, image, i)
	}
	o := newOnCluster(t, c, project)
	o.write(t, b.String())

	began := time.Now()
	o.run(t, "up", "-d", "--wait", "--wait-timeout", "300")
	berthUp := time.Since(began)

	var noop []time.Duration
	for range 5 {
		began = time.Now()
		o.run(t, "up", "-d", "--wait")
		noop = append(noop, time.Since(began))
	}
	o.run(t, "down", "-v")

	// the same manifests, by kubectl, in another namespace
	k := newOnCluster(t, c, project+"-kubectl")
	k.write(t, b.String())
	dir := filepath.Join(t.TempDir(), "k8s")
	k.run(t, "convert", "--to", "kubernetes", "-o", dir)
	began = time.Now()
	// the namespace first: kubectl applies a directory's files in the
	// order of their names
	c.kubectl(t, "", "apply", "-f", filepath.Join(dir, "namespace-"+k.project+".yaml"))
	c.kubectl(t, "", "apply", "-f", dir)
	for i := range 10 {
		c.kubectl(t, "", "-n", k.project, "rollout", "status", fmt.Sprintf("deployment/s%d", i), "--timeout=5m")
	}
	kubectl := time.Since(began)
	c.kubectl(t, "", "delete", "namespace", k.project, "--wait=false")

	t.Logf("10 services to Ready: berth up -d --wait %s; kubectl apply -f + rollout status x10 %s", berthUp.Round(10*time.Millisecond), kubectl.Round(10*time.Millisecond))
	t.Logf("berth up with nothing changed (5 runs): %v", noop)
}
