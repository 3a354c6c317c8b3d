package k8s

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// berthBin is the berth under test, built once by TestMain.
var berthBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-k8s-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	berthBin = filepath.Join(dir, "berth")
	// and berth-build beside it, which reads Dockerfiles for up --build
	// --push; the static build as make build makes it
	for _, b := range []struct{ name, cgo string }{{"berth", ""}, {"berth-build", "CGO_ENABLED=0"}} {
		build := exec.Command("go", "build", "-tags", "seccomp", "-o", filepath.Join(dir, b.name), "../../cmd/"+b.name)
		if b.cgo != "" {
			build.Env = append(os.Environ(), b.cgo)
		}
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", b.name, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	// the cluster script packages its pause image with this berth too
	os.Setenv("BERTH", berthBin)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
