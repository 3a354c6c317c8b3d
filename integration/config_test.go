package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigExample(t *testing.T) {
	examples, err := filepath.Abs("../examples/webapp")
	if err != nil {
		t.Fatal(err)
	}
	r := berth(t, examples, "", "config")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{"name: webapp\n", "GREETING: hello from berth\n", "name: webapp_kvdata\n", "condition: service_completed_successfully\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("config output lacks %q", want)
		}
	}
	if r := berth(t, examples, "", "config", "--services"); r.stdout != "kv\nmigrate\napi\nweb\n" {
		t.Errorf("--services = %q, want dependency order kv migrate api web", r.stdout)
	}
}

func TestConfigGlobalFlags(t *testing.T) {
	dir := project(t, map[string]string{
		"base.yaml": "services:\n  web: {image: 'nginx:${TAG:-latest}'}\n  dbg: {image: busybox, profiles: [debug]}\n",
		"over.yaml": "services:\n  web: {environment: [A=1]}\n",
		"prod.env":  "TAG=1.27\n",
	})
	r := berth(t, dir, "", "-f", "base.yaml", "-f", "over.yaml", "-p", "shop", "--env-file", "prod.env", "--profile", "debug", "config")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"name: shop\n", "image: nginx:1.27\n", "A: \"1\"\n", "dbg:\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestConfigFromStdin(t *testing.T) {
	dir := t.TempDir()
	r := berth(t, dir, "services:\n  web: {image: fromstdin}\n", "-f", "-", "-p", "in", "config", "--images")
	if r.code != 0 || r.stdout != "fromstdin\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestConfigQuietAndOutput(t *testing.T) {
	dir := project(t, map[string]string{"compose.yaml": "services: {web: {image: x}}\n"})
	if r := berth(t, dir, "", "config", "-q"); r.code != 0 || r.stdout != "" {
		t.Errorf("-q: exit %d, stdout %q", r.code, r.stdout)
	}
	out := filepath.Join(dir, "rendered.yaml")
	if r := berth(t, dir, "", "config", "-o", out); r.code != 0 || r.stdout != "" {
		t.Errorf("-o: exit %d, stdout %q", r.code, r.stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(data), "name: ") {
		t.Errorf("-o wrote %q, %v", data, err)
	}
}

// TestBadInput: every kind of bad input gets one line on stderr, nothing on
// stdout, and the exit code docker compose gives.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		env   []string
		args  []string
		code  int
		want  string
	}{
		{"yaml syntax", map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n   b: 1\n"}, nil, []string{"config"}, 1, "line 4, column 4: did not find expected key"},
		{"unknown key", map[string]string{"compose.yaml": "services: {a: {image: x, imagee: y}}\n"}, nil, []string{"config"}, 1, "imagee"},
		{"missing file", nil, nil, []string{"-f", "nope.yaml", "config"}, 1, "nope.yaml"},
		{"no file at all", nil, nil, []string{"config"}, 1, "no configuration file provided"},
		{"required variable", map[string]string{"compose.yaml": "services: {a: {image: '${NEED:?set NEED}'}}\n"}, nil, []string{"config"}, 1, "set NEED"},
		{"cycle", map[string]string{"compose.yaml": "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n"}, nil, []string{"config"}, 1, "a -> b -> a"},
		{"bad project name", map[string]string{"compose.yaml": "services: {a: {image: x}}\n"}, nil, []string{"-p", "Bad Name", "config"}, 1, "Bad Name"},
		{"unknown profile", map[string]string{"compose.yaml": "services: {a: {image: x, profiles: [dev]}}\n"}, nil, []string{"--profile", "prod", "config"}, 1, `no such profile: "prod"`},
		{"unknown service", map[string]string{"compose.yaml": "services: {a: {image: x}}\n"}, nil, []string{"config", "ghost"}, 1, "ghost"},
		{"unknown flag", map[string]string{"compose.yaml": "services: {a: {image: x}}\n"}, nil, []string{"config", "--bogus"}, 125, "unknown flag: --bogus"},
		{"bad --progress", map[string]string{"compose.yaml": "services: {a: {image: x}}\n"}, nil, []string{"--progress", "loud", "config"}, 125, "--progress"},
		{"bad COMPOSE_PARALLEL_LIMIT", map[string]string{"compose.yaml": "services: {a: {image: x}}\n"}, []string{"COMPOSE_PARALLEL_LIMIT=lots"}, []string{"config"}, 125, "COMPOSE_PARALLEL_LIMIT"},
		{"recursive alias", map[string]string{"compose.yaml": "x-a: &a {k: {<<: *a}}\nservices: {a: {image: x}}\n"}, nil, []string{"config"}, 1, "refers to a node that contains it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := project(t, tc.files)
			r := berthEnv(t, dir, tc.env, "", tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if lines := strings.Count(r.stderr, "\n"); lines != 1 || !strings.HasPrefix(r.stderr, "berth: ") {
				t.Errorf("stderr is not one berth: line: %q", r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not mention %q", r.stderr, tc.want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(tc.files) {
				t.Errorf("berth left %d files in the project directory, want %d", len(entries), len(tc.files))
			}
		})
	}
}
