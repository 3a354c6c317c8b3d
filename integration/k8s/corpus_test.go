package k8s

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fixture"
)

// testCorpusDryRun: every compose file of the corpus that berth converts
// to Kubernetes is accepted by the API server, berth --dry-run up sending
// each object with dryRun=All through berth's own apply; the files up
// refuses (a build: without an image: to push) as kubectl apply
// --dry-run=server sends convert's manifests.
func testCorpusDryRun(t *testing.T, c *cluster, kubeContext string) {
	root, paths := fixture.Corpus(t)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COMPOSE_") && !strings.HasPrefix(kv, "BERTH_") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	env = append(env, "KUBECONFIG="+c.Kubeconfig, "BERTH_ROOT="+t.TempDir())
	// berthAt runs berth in dir, returning its stdout and stderr together
	// and whether it exited 0
	berthAt := func(dir string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, errOut, code := runBerth(ctx, dir, env, args...)
		if code != 0 {
			return out + errOut, fmt.Errorf("exit %d", code)
		}
		return out + errOut, nil
	}
	converted, buildOnly := 0, 0
	for i, p := range paths {
		name, _ := filepath.Rel(root, p)
		file, dir := filepath.Base(p), filepath.Dir(p)
		project := "corpus-" + strings.ReplaceAll(strings.TrimSuffix(file, filepath.Ext(file)), "_", "-")
		if len(project) > 40 {
			project = project[:40]
		}
		project = strings.Trim(strings.ToLower(project), "-.") + "-" + strconv.Itoa(i)
		if _, err := berthAt(dir, "-f", file, "-p", project, "convert", "--to", "kubernetes"); err != nil {
			continue // berth does not load or map it: kube's TestCorpus says why
		}
		converted++
		out, err := berthAt(dir, "--context", kubeContext, "--dry-run", "-f", file, "-p", project, "up", "-d")
		if err != nil && strings.Contains(out, "berth: service ") && strings.Contains(out, " has build: but no image: ") {
			// up refuses it before any object is sent, as without
			// --dry-run; convert's manifests go to the API server as a
			// user's kubectl sends them (in default: a dry run of a
			// namespace's objects needs the namespace)
			buildOnly++
			manifests := filepath.Join(t.TempDir(), "k8s")
			if out, err := berthAt(dir, "-f", file, "-p", project, "convert", "--to", "kubernetes", "--namespace", "default", "-o", manifests); err != nil {
				t.Errorf("%s: convert --namespace default: %v\n%s", name, err, out)
				continue
			}
			if out, err := c.tryKubectl("", "apply", "--dry-run=server", "-f", manifests); err != nil {
				t.Errorf("%s: the API server refused convert's manifests: %v\n%s", name, err, out)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: the API server refused berth's objects: %v\n%s", name, err, out)
			continue
		}
		if !strings.Contains(out, "(dry run)") {
			t.Errorf("%s: dry run said nothing of its objects:\n%s", name, out)
		}
	}
	t.Logf("%d of %d compose files converted; the API server accepted them, %d through kubectl (their build-only services up refuses)", converted, len(paths), buildOnly)
	if converted < 40 {
		t.Errorf("only %d compose files of the corpus converted: want the corpus", converted)
	}
}
