package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOptionsAlike: `container run`'s flags and a compose file's keys go
// through one check (container.CreateOptions.Validate), so a setting is
// accepted from both or refused from both with the same words, as Docker
// settles it. Before, they had drifted: max-file without max-size was
// refused (Docker's json-file keeps one unbounded file), max-size 0 and an
// extra host that is no address were taken from compose, and a link with
// two colons or a volumes_from container:NAME:MODE was misread.
func TestOptionsAlike(t *testing.T) {
	dir, root, compose := composeRoot(t, `name: alike
services:
  opts:
    image: bb:1
    command: ["sh", "-c", "seq 3; grep NoNewPrivs /proc/self/status"]
    logging: {options: {max-file: "3"}}
    security_opt: ["no-new-privileges:false"]
`)
	const out = "1\n2\n3\nNoNewPrivs:\t0\n"
	logFiles := func(name string) int {
		t.Helper()
		id := strings.TrimSpace(compose("container", "inspect", "-f", "{{.Id}}", name).stdout)
		files, _ := filepath.Glob(filepath.Join(root, "containers", id, id+"-json.log*"))
		return len(files)
	}
	// accepted from both: max-file alone (one file, never rotated) and
	// no-new-privileges:false (privileges may be gained, as without it)
	r := compose("container", "run", "--name", "alike-run", "--log-opt", "max-file=3", "--security-opt", "no-new-privileges:false",
		"bb:1", "sh", "-c", "seq 3; grep NoNewPrivs /proc/self/status")
	if r.code != 0 || r.stdout != out {
		t.Errorf("run: exit %d, %q (%s); want %q", r.code, r.stdout, r.stderr, out)
	}
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: exit %d, %s", r.code, r.stderr)
	}
	compose("wait", "opts")
	for _, name := range []string{"alike-run", "alike-opts-1"} {
		if got := compose("container", "logs", name).stdout; got != out {
			t.Errorf("%s logs: %q, want %q", name, got, out)
		}
		if n := logFiles(name); n != 1 {
			t.Errorf("%s: %d log files, want 1", name, n)
		}
	}
	compose("container", "rm", "alike-run")
	t.Cleanup(func() { compose("-f", "bad.yaml", "down", "-v", "-t", "0") })
	// refused from both, with the same words
	for _, c := range []struct {
		flags []string
		key   string
		want  string
	}{
		{[]string{"--log-opt", "max-file=0"}, `logging: {options: {max-file: "0"}}`, "max-file cannot be less than 1"},
		{[]string{"--log-opt", "max-size=0"}, `logging: {options: {max-size: "0"}}`, "max-size must be a positive number"},
		{[]string{"--cpus", "-1"}, `cpus: -1`, "range of CPUs is from 0.01 to"},
		{[]string{"--link", "a:b:c"}, `external_links: ["a:b:c"]`, "bad format for links: a:b:c"},
		{[]string{"--add-host", "db:nope"}, `extra_hosts: ["db:nope"]`, `invalid IP address in add-host: "nope"`},
		{[]string{"--volumes-from", "x:z"}, `volumes_from: ["container:x:z"]`, `invalid --volumes-from "x:z": the mode must be ro or rw`},
		{[]string{"--dns", "resolver"}, `dns: [resolver]`, "resolver is not an ip address"},
	} {
		r := compose(append(append([]string{"container", "run", "--rm"}, c.flags...), "bb:1", "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("run %v: exit %d, %q; want 125 and %q", c.flags, r.code, r.stderr, c.want)
		}
		yaml := "name: alikebad\nservices:\n  bad:\n    image: bb:1\n    command: [\"true\"]\n    " + c.key + "\n"
		if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		r = compose("-f", "bad.yaml", "up", "-d")
		if r.code != 1 || !strings.Contains(r.stderr, `service "bad": `+c.want) {
			t.Errorf("up with %s: exit %d, %q; want 1 and %q", c.key, r.code, r.stderr, c.want)
		}
		if ps := compose("-f", "bad.yaml", "ps", "-a", "-q").stdout; ps != "" {
			t.Errorf("up with %s made containers: %q", c.key, ps)
		}
	}
	if r := compose("container", "ps", "-a", "-q", "--filter", "name=alike-run"); r.stdout != "" {
		t.Errorf("a refused run left a container: %q", r.stdout)
	}
}
