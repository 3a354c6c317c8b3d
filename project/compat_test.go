package project

import (
	"bytes"
	"context"
	"flag"
	"os"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated files (docs/compose-compat.md)")

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCompatDoc keeps docs/compose-compat.md equal to what Support says.
// Run `make docs` (go test ./project -run TestCompatDoc -update) after
// changing Support.
func TestCompatDoc(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCompatTable(&buf); err != nil {
		t.Fatal(err)
	}
	const path = "../docs/compose-compat.md"
	if *update {
		writeFile(t, path, buf.String())
		return
	}
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, buf.Bytes()) {
		t.Error("docs/compose-compat.md is out of date with project.Support: run `make docs`")
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		path string
		want Status
	}{
		{"name", Yes},
		{"services.*.profiles", Yes},
		{"services.*.ports", Yes},
		{"services.*.deploy.resources.limits.memory", Yes},
		{"services.*.deploy.placement.constraints", No},
		{"services.*.secrets", Yes},
		{"services.*.platform", Yes},
		{"services.*.build.context", Yes},
		{"services.*.build.ssh", No},
		{"services.*.gpus", No},
		{"networks.*.ipam.config.[].subnet", Yes},
		{"models.*.model", No},
	}
	for _, tc := range tests {
		if got := Lookup(tc.path).Status; got != tc.want {
			t.Errorf("Lookup(%s) = %s, want %s", tc.path, got, tc.want)
		}
	}
}

func TestUnsupportedWarnings(t *testing.T) {
	cleanEnv(t)
	dir := files(t, map[string]string{"compose.yaml": `name: w
x-common: &c {image: x}
services:
  web:
    image: nginx
    gpus: all
    profiles: [on]
    x-mine: anything
  off:
    image: x
    cap_add: [NET_ADMIN]
    gpus: all
    profiles: [disabled]
networks:
  front: {enable_ipv6: true}
`})
	t.Chdir(dir)
	p, err := Load(context.Background(), Options{Profiles: []string{"on"}, All: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range p.Unsupported {
		got = append(got, u.String())
	}
	want := []string{
		`key "networks.front.enable_ipv6" is not supported by berth and is ignored`,
		`service "web": key "gpus" is not supported by berth and is ignored`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n%q\nwant:\n%q", got, want)
	}
	// a key an open issue will bring says so
	planned := Unsupported{Service: "web", Key: "x", Rule: Rule{Path: "services.*.x", Status: Planned}}
	if got := planned.String(); got != `service "web": key "x" is not supported by berth yet and is ignored` {
		t.Errorf("a planned key: %q", got)
	}
}
