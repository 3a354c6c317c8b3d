package main

import (
	"os/exec"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// TestNoFrontend keeps BuildKit's Dockerfile frontend out of berth: it is
// berth-build's (package build/frontend), so that every command does not
// pay for the initialisation of what it links (grpc, x/net/trace and
// html/template, x/crypto/ssh, OpenTelemetry) nor carry its 10 MB.
func TestNoFrontend(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: berth's dependencies cannot be listed")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := regexp.MustCompile(`grpc|golang\.org/x/net/trace|^html/template$|golang\.org/x/crypto/ssh|opentelemetry|` +
		`moby/buildkit/(frontend/dockerfile/dockerfile2llb|frontend/dockerui|frontend/gateway|client/llb)|^github\.com/berth-dev/berth/build/frontend$`)
	var found []string
	for _, dep := range strings.Fields(string(out)) {
		if forbidden.MatchString(dep) {
			found = append(found, dep)
		}
	}
	if len(found) > 0 {
		t.Errorf("berth links %d packages of the Dockerfile frontend or its dependencies: %s", len(found), strings.Join(found, " "))
	}
	// and package build still reaches the frontend
	if !strings.Contains(string(out), "github.com/berth-dev/berth/build/frontend/wire\n") {
		t.Errorf("berth does not link build/frontend/wire: how does it build?")
	}
}

// TestGCOnAfterInit: the collector, off while berth's packages initialise
// (internal/initgc), is on again once they have, for every command.
func TestGCOnAfterInit(t *testing.T) {
	got := debug.SetGCPercent(100)
	debug.SetGCPercent(got)
	if got < 0 {
		t.Errorf("the garbage collector is off after berth's init (GC percent %d)", got)
	}
}
