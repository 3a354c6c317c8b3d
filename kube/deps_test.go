package kube_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestNoClient keeps client-go's typed clientset out of kube: it would
// be linked into, and initialised by, every berth command (about 20 MB,
// and milliseconds of init); the cluster backend uses the dynamic client.
// client-go's discovery is out too: it links client-go/kubernetes/scheme,
// every API group's types.
// The local machinery stays out too.
func TestNoClient(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: kube's dependencies cannot be listed")
	}
	forbidden := regexp.MustCompile(`^k8s\.io/client-go/(kubernetes|discovery)(/.*)?$|libcontainer|^github\.com/berth-dev/berth/(container|engine|runtime|netns|volumes|image)$`)
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if forbidden.MatchString(dep) {
			t.Errorf("package kube depends on %s", dep)
		}
	}
}
