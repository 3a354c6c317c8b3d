package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/api"
)

// pullProject: a service of each pull_policy that compose pull weighs.
const pullProject = `name: p
services:
  dflt: {image: "dflt:1"}
  miss: {image: "miss:1", pull_policy: missing}
  nev: {image: "nev:1", pull_policy: never}
  alw: {image: "alw:1", pull_policy: always}
`

// TestPull: compose pull asks for each service's image, in the order of
// the names, as --policy and the service's pull_policy weigh together
// (always, unless the service says missing or never, or --policy
// missing); a failure stops it, or with --ignore-pull-failures becomes
// a warning and the next service's image is still pulled.
func TestPull(t *testing.T) {
	p := load(t, pullProject)
	for _, c := range []struct {
		name     string
		o        api.PullOptions
		services []string
		fail     string
		want     string
		err      bool
		warnings string
	}{
		{name: "policy unset", want: "image always alw:1|image always dflt:1|image missing miss:1|image missing nev:1"},
		{name: "--policy missing", o: api.PullOptions{Policy: "missing"}, want: "image missing alw:1|image missing dflt:1|image missing miss:1|image missing nev:1"},
		{name: "--policy always", o: api.PullOptions{Policy: "always"}, want: "image always alw:1|image always dflt:1|image always miss:1|image missing nev:1"},
		{name: "services", services: []string{"nev", "dflt"}, want: "image always dflt:1|image missing nev:1"},
		{name: "failure stops", fail: "image always dflt:1", want: "image always alw:1|image always dflt:1", err: true},
		{name: "failure ignored", o: api.PullOptions{IgnoreFailures: true}, fail: "image always dflt:1",
			want: "image always alw:1|image always dflt:1|image missing miss:1|image missing nev:1", warnings: `service "dflt": boom`},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newMachine()
			if c.fail != "" {
				f.fail[c.fail] = errors.New("boom")
			}
			e := f.engine(t)
			var warnings []string
			e.Warn = func(s string) { warnings = append(warnings, s) }
			err := e.Pull(context.Background(), p, c.services, c.o)
			if (err != nil) != c.err {
				t.Errorf("error %v, want one: %v", err, c.err)
			}
			if got := strings.Join(f.recorded(), "|"); got != c.want {
				t.Errorf("pulled %q, want %q", got, c.want)
			}
			if got := strings.Join(warnings, "|"); got != c.warnings {
				t.Errorf("warnings %q, want %q", got, c.warnings)
			}
		})
	}
}

// TestImages: compose images lists each container's image, its
// reference split at the tag as Docker shows it (a registry's port is
// not a tag), and no size once the image is gone.
func TestImages(t *testing.T) {
	p := load(t, `name: p
services:
  web: {image: "web:1"}
  api: {image: "localhost:5000/team/api"}
`)
	f := newMachine()
	f.upAll(p, nil, nil)
	delete(f.images, "web:1")
	list, err := f.engine(t).Images(context.Background(), "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(list, func(a, b api.ImageSummary) int { return strings.Compare(a.Container, b.Container) })
	want := []api.ImageSummary{
		{Container: "p-api-1", Repository: "localhost:5000/team/api", Tag: "latest", ID: "id-localhost:5000/team/api", Size: 1},
		{Container: "p-web-1", Repository: "web", Tag: "1", ID: "id-web:1", Size: -1},
	}
	if !slices.Equal(list, want) {
		t.Errorf("images %+v, want %+v", list, want)
	}
}
