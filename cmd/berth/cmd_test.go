package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/build"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/netns"
	"github.com/berth-dev/berth/volumes"
)

func TestPruneFilter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	old := netns.Network{Name: "old", Created: now.Add(-48 * time.Hour), Labels: map[string]string{"keep": "yes"}}
	fresh := netns.Network{Name: "fresh", Created: now.Add(-time.Hour), Labels: map[string]string{"tier": "web"}}
	for _, c := range []struct {
		filters []string
		want    string // the networks kept, in order
	}{
		{nil, "old fresh"},
		{[]string{"until=24h"}, "old"},
		{[]string{"until=2026-11-21"}, "old"},
		{[]string{"until=1800000000"}, "old fresh"},
		{[]string{"label=tier"}, "fresh"},
		{[]string{"label=tier=db"}, ""},
		{[]string{"label!=keep"}, "fresh"},
		{[]string{"label!=keep=no"}, "old fresh"},
	} {
		keep, err := pruneFilter(c.filters, now)
		if err != nil {
			t.Fatalf("%v: %v", c.filters, err)
		}
		got := ""
		for _, n := range []netns.Network{old, fresh} {
			if keep(n) {
				got += " " + n.Name
			}
		}
		if got != " "+c.want && !(got == "" && c.want == "") {
			t.Errorf("%v kept %q, want %q", c.filters, got, c.want)
		}
	}
	for _, bad := range []string{"until=yesterday", "driver=bridge", "label"} {
		if _, err := pruneFilter([]string{bad}, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestLiveProgress: the terminal display keeps one line per object,
// redrawing them all in place when one changes.
func TestLiveProgress(t *testing.T) {
	var b strings.Builder
	l := &live{w: &b}
	l.update("Network", "p_default", "Creating")
	l.update("Network", "p_default", "Created")
	l.update("Container", "p-web-1", "Starting")
	want := "\x1b[2K[+] Running 0/1\n\x1b[2K ⠿ Network p_default  Creating\n" +
		"\x1b[2A\x1b[2K[+] Running 1/1\n\x1b[2K ✔ Network p_default  Created\n" +
		"\x1b[2A\x1b[2K[+] Running 1/2\n\x1b[2K ✔ Network p_default  Created\n\x1b[2K ⠿ Container p-web-1  Starting\n"
	if b.String() != want {
		t.Errorf("display:\n%q\nwant:\n%q", b.String(), want)
	}
}

// TestExitCode: the exit code comes from the error's class: 125 for a
// usage error however it is wrapped or made, a process's own code, and 1
// for every other class, as docker compose exits.
func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{usageError{errors.New("unknown flag: --bogus")}, 125},
		{fmt.Errorf("reading flags: %w", usageError{errors.New("bad")}), 125},
		{errclass.New(errclass.ErrUsage, "unknown flag: --nope"), 125},
		{exitError{code: 3, err: errors.New("exit status 3")}, 3},
		{errclass.New(errclass.ErrNotFound, "no such service: wbe"), 1},
		{fmt.Errorf("removing: %w", volumes.ErrInUse), 1},
		{errors.New("anything else"), 1},
	} {
		if got := exitCode(c.err, false); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	// a failed RUN step: its code from a build command, 1 from another
	step := fmt.Errorf("service %q: %w", "web", &build.ExitError{Args: []string{"sh"}, Code: 7})
	if got := exitCode(step, true); got != 7 {
		t.Errorf("exitCode(%v, build) = %d, want 7", step, got)
	}
	if got := exitCode(step, false); got != 1 {
		t.Errorf("exitCode(%v, up) = %d, want 1", step, got)
	}
}

// TestDockerBuild: berth build is docker build's form (image build) with
// -t or a path argument, which no service name can be; compose's
// otherwise.
func TestDockerBuild(t *testing.T) {
	root := newRootCmd(strings.NewReader(""), io.Discard, io.Discard)
	for _, c := range []struct{ in, want string }{
		{"build -t app .", "image build -t app ."},
		{"build --tag=app:1 ctx", "image build --tag=app:1 ctx"},
		{"build -qt app ctx", "image build -qt app ctx"},
		{"build .", "image build ."},
		{"build --build-arg A=1 ./app", "image build --build-arg A=1 ./app"},
		{"build -f Dockerfile.dev ../src", "image build -f Dockerfile.dev ../src"},
		{"--root /r build -t x dir", "--root /r image build -t x dir"},
		{"-f compose.yaml build web", "-f compose.yaml build web"},
		{"build web worker", "build web worker"},
		{"build --build-arg A=./x web", "build --build-arg A=./x web"},
		{"build --no-cache -q web", "build --no-cache -q web"},
		{"build", "build"},
		{"up -d ./x", "up -d ./x"},
		{"image build -t x .", "image build -t x ."},
	} {
		if got := strings.Join(dockerBuild(root, strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}
