package k8s

import (
	"bytes"
	"context"
	"errors"
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

// runBerth runs the berth under test with args in dir (the test's own
// directory when "") and env (the test's environment when nil), and
// returns its stdout, stderr and exit code: -1 when it did not exit by
// itself (it did not start, or ctx ended it).
func runBerth(ctx context.Context, dir string, env []string, args ...string) (string, string, int) {
	cmd := exec.CommandContext(ctx, berthBin, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		code = -1
	}
	return stdout.String(), stderr.String(), code
}
