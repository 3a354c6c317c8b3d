package k8s

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// benchStack is 10 services of busybox httpd, each with a Service.
func benchStack(image string) string {
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
	return b.String()
}

// BenchmarkKubeUp measures, on the test cluster, a 10-service stack taken
// to Ready: berth --context C up -d --wait (berth); the same manifests,
// berth convert's, applied with kubectl apply -f and waited for with
// kubectl rollout status for each Deployment (kubectl); and berth up with
// nothing changed (berth-unchanged). Each iteration of the first two
// starts from nothing: the stack's namespace is removed, untimed, after
// it. go test -tags seccomp -run '^$' -bench KubeUp -benchtime 3x
// ./integration/k8s
func BenchmarkKubeUp(b *testing.B) {
	// each sub-benchmark's projects are named after this one's
	c, o, image := onNewCluster(b, "bench")
	project := o.project
	stack := benchStack(image)

	b.Run("berth", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			o := newOnCluster(b, c, fmt.Sprintf("%s-b%d", project, i))
			o.write(b, stack)
			b.StartTimer()
			o.run(b, "up", "-d", "--wait", "--wait-timeout", "300")
			b.StopTimer()
			o.run(b, "down", "-v")
		}
	})
	b.Run("berth-unchanged", func(b *testing.B) {
		b.StopTimer()
		o := newOnCluster(b, c, project+"-u")
		o.write(b, stack)
		o.run(b, "up", "-d", "--wait", "--wait-timeout", "300")
		b.Cleanup(func() { o.run(b, "down", "-v") })
		b.StartTimer()
		for i := 0; i < b.N; i++ {
			o.run(b, "up", "-d", "--wait")
		}
	})
	b.Run("kubectl", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			k := newOnCluster(b, c, fmt.Sprintf("%s-k%d", project, i))
			k.write(b, stack)
			dir := filepath.Join(b.TempDir(), "k8s")
			k.run(b, "convert", "--to", "kubernetes", "-o", dir)
			b.StartTimer()
			// the namespace first: kubectl applies a directory's files
			// in the order of their names
			c.kubectl(b, "", "apply", "-f", filepath.Join(dir, "namespace-"+k.project+".yaml"))
			c.kubectl(b, "", "apply", "-f", dir)
			for s := range 10 {
				c.kubectl(b, "", "-n", k.project, "rollout", "status", fmt.Sprintf("deployment/s%d", s), "--timeout=5m")
			}
			b.StopTimer()
			c.kubectl(b, "", "delete", "namespace", k.project)
		}
	})
}
