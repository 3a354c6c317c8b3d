package api_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestLeaf keeps api a seam a second backend can implement without
// linking berth's own machinery: what api depends on must not include
// the container runtime (libcontainer, package runtime), nor the
// packages the local engine acts through. And api/proc, which package
// container takes its options from, must not link the compose loader,
// which berth-monitor (every container's init too) would then carry.
func TestLeaf(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: api's dependencies cannot be listed")
	}
	machinery := `libcontainer|^github\.com/berth-dev/berth/(container|engine|runtime|netns|volumes|image)$`
	for pkg, forbidden := range map[string]*regexp.Regexp{
		".":      regexp.MustCompile(machinery),
		"./proc": regexp.MustCompile(machinery + `|compose-spec|^github\.com/berth-dev/berth/project$`),
	} {
		out, err := exec.Command(gobin, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if forbidden.MatchString(dep) {
				t.Errorf("package api (%s) depends on %s", pkg, dep)
			}
		}
	}
}
