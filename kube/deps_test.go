package kube_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestNoClient keeps kube to the API types: client-go, and the local
// machinery, would be linked into, and initialised by, every berth command.
func TestNoClient(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: kube's dependencies cannot be listed")
	}
	forbidden := regexp.MustCompile(`^k8s\.io/client-go|libcontainer|^github\.com/berth-dev/berth/(container|engine|runtime|netns|volumes|image)$`)
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
