package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestConvertKubernetes drives `berth convert --to kubernetes` as a user
// does: manifests on standard output or one file per object in a
// directory, warnings on standard error, and refusals that write nothing.
func TestConvertKubernetes(t *testing.T) {
	dir := project(t, map[string]string{
		"compose.yaml": `name: shop
services:
  web:
    image: nginx:1.27
    ports: ["30080:80"]
    ulimits: {nofile: 1024}
    depends_on: [db]
  db:
    image: postgres:16
    volumes: [data:/var/lib/postgresql/data]
volumes:
  data: {}
`,
		"bind.yaml":       "services:\n  web:\n    image: nginx\n    volumes: ['./site:/srv']\n",
		"site/index.html": "hello\n",
	})
	out := filepath.Join(dir, "k8s")
	r := berth(t, dir, "", "convert", "--to", "kubernetes", "-o", out)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r.stderr != "warning: service \"web\": key \"ulimits\" is not supported on Kubernetes and is ignored: Kubernetes sets no rlimits\n" {
		t.Errorf("stderr %q, want the one warning for ulimits", r.stderr)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	want := []string{"deployment-web.yaml", "namespace-shop.yaml", "networkpolicy-network-default.yaml", "networkpolicy-web-published.yaml",
		"persistentvolumeclaim-data.yaml", "service-web-published.yaml", "service-web.yaml", "statefulset-db.yaml"}
	if !slices.Equal(files, want) {
		t.Errorf("files %v, want %v", files, want)
	}
	var d appsv1.Deployment
	b, err := os.ReadFile(filepath.Join(out, "deployment-web.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &d); err != nil {
		t.Fatalf("deployment-web.yaml: %v", err)
	}
	if d.Kind != "Deployment" || d.Namespace != "shop" || d.Spec.Template.Spec.Containers[0].Image != "nginx:1.27" || d.Labels["app.kubernetes.io/managed-by"] != "berth" {
		t.Errorf("deployment-web.yaml:\n%s", b)
	}
	var svc corev1.Service
	b, _ = os.ReadFile(filepath.Join(out, "service-web-published.yaml"))
	if err := yaml.UnmarshalStrict(b, &svc); err != nil || svc.Spec.Type != corev1.ServiceTypeNodePort || svc.Spec.Ports[0].NodePort != 30080 {
		t.Errorf("service-web-published.yaml (%v):\n%s", err, b)
	}

	// standard output: the same objects as one stream, dependencies first
	r = berth(t, dir, "", "convert", "--to", "kubernetes")
	if r.code != 0 {
		t.Fatalf("to stdout: exit %d: %s", r.code, r.stderr)
	}
	docs := strings.Split(r.stdout, "\n---\n")
	if len(docs) != len(want) || !strings.Contains(docs[0], "kind: Namespace") {
		t.Errorf("%d documents, the first:\n%s", len(docs), docs[0])
	}
	if db, web := strings.Index(r.stdout, "kind: StatefulSet"), strings.Index(r.stdout, "kind: Deployment"); db < 0 || web < db {
		t.Errorf("db's StatefulSet (at %d) does not come before web's Deployment (at %d)", db, web)
	}

	// a bind mount is refused on one line, and nothing is written
	refused := filepath.Join(dir, "refused")
	r = berth(t, dir, "", "-f", "bind.yaml", "convert", "--to", "kubernetes", "-o", refused)
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, `service "web": key "volumes"`) || !strings.Contains(r.stderr, "site") {
		t.Errorf("bind: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(refused); !os.IsNotExist(err) {
		t.Errorf("a refused conversion made %s: %v", refused, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".refused-*")); len(leftovers) > 0 {
		t.Errorf("left behind %v", leftovers)
	}

	// another format is a usage error; without --to, convert is config
	if r := berth(t, dir, "", "convert", "--to", "helm"); r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "helm") {
		t.Errorf("--to helm: exit %d, stderr %q", r.code, r.stderr)
	}
	config := berth(t, dir, "", "config")
	if r := berth(t, dir, "", "convert"); r.code != 0 || r.stdout != config.stdout {
		t.Errorf("convert without --to: exit %d, stdout differs from config's:\n%s", r.code, r.stdout)
	}
}
