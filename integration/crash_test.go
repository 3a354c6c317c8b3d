package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/crash"
	"github.com/berth-dev/berth/monitor"
)

// crashStack has what a crash can leave half-made: an anonymous volume
// filled from the image (copy-up, through a mounted view of its layers),
// another one empty, a named volume holding data that must survive,
// a user-defined network (bridge, addresses, DNS entries), a published
// port, and a dependency order.
const crashStack = `name: crashy
services:
  db:
    image: bb:1
    init: true
    command: ["sleep", "600"]
    volumes: ["data:/data", "/etc"]
  web:
    image: bb:1
    init: true
    command: ["sleep", "600"]
    ports: ["127.0.0.1::7000"]
    volumes: ["/cache"]
    depends_on: [db]
  worker:
    image: bb:1
    init: true
    command: ["sleep", "600"]
volumes:
  data:
    external: true
    name: crashdata
`

// TestCrashUp kills `up -d` at each named step (BERTH_TEST_CRASH_AT, see
// package crash) and checks that the next command, whatever it is, leaves
// nothing that no command sees (container directories without a whole
// record, intents, mounts, image views, copy-up directories, anonymous
// volumes no container has, DNS entries, network namespaces, addresses of
// containers that are gone), that the next up brings every service up,
// and that down -v then leaves nothing at all, the named volume's data
// kept.
func TestCrashUp(t *testing.T) {
	dir, root, compose := composeRoot(t, crashStack)
	seedData(t, compose)
	for _, step := range []string{"create-intent", "create-view", "volume-copyup", "volume-dir", "create-volumes",
		"create-config", "create-record", "up-created", "start-keeper", "start-go", "network-subnet", "network-record"} {
		t.Run(step, func(t *testing.T) {
			if r := crashed(t, dir, root, step, "up", "-d"); r.code != -1 {
				t.Fatalf("up -d with %s=%s: exit %d, want killed (step not reached?)\n%s", crash.Env, step, r.code, r.stderr)
			}
			// any command that opens the store cleans up
			compose("ps", "-a")
			noHalfMade(t, root)
			if r := compose("up", "-d"); r.code != 0 {
				t.Fatalf("up after the crash: %s", r.stderr)
			}
			for _, s := range []string{"db", "web", "worker"} {
				if got := compose("ps", "--status", "running", "-q", s).stdout; strings.TrimSpace(got) == "" {
					t.Errorf("service %s not running after the next up", s)
				}
			}
			noHalfMade(t, root)
			tornDown(t, root, compose)
		})
	}
}

// TestCrashDown kills `down -v` at each named step and checks that the
// next command leaves nothing half-removed, and the next down -v nothing
// at all: no DNS entry that would make a service name resolve to a dead
// address, no mounted root, the named volume's data kept.
func TestCrashDown(t *testing.T) {
	dir, root, compose := composeRoot(t, crashStack)
	seedData(t, compose)
	for _, step := range []string{"down-halted", "halt-left", "remove-intent", "runtime-destroyed", "remove-record", "remove-volumes"} {
		t.Run(step, func(t *testing.T) {
			if r := compose("up", "-d"); r.code != 0 {
				t.Fatalf("up: %s", r.stderr)
			}
			if r := crashed(t, dir, root, step, "down", "-v", "-t", "0"); r.code != -1 {
				t.Fatalf("down -v with %s=%s: exit %d, want killed (step not reached?)\n%s", crash.Env, step, r.code, r.stderr)
			}
			compose("ps", "-a")
			noHalfMade(t, root)
			tornDown(t, root, compose)
		})
	}
}

// TestCrashRecreate kills `up -d --force-recreate` where a recreated
// container's anonymous volume is between the predecessor, removed, and
// the successor, not made yet: the next up gives the successor that
// volume, its data kept, and down -v removes it.
func TestCrashRecreate(t *testing.T) {
	dir, root, compose := composeRoot(t, crashStack)
	seedData(t, compose)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up: %s", r.stderr)
	}
	if r := compose("exec", "-T", "web", "sh", "-c", "echo cached > /cache/mark"); r.code != 0 {
		t.Fatalf("writing the anonymous volume: %s", r.stderr)
	}
	if r := crashed(t, dir, root, "up-handed-over", "up", "-d", "--force-recreate", "--no-deps", "web"); r.code != -1 {
		t.Fatalf("up --force-recreate with %s=up-handed-over: exit %d, want killed\n%s", crash.Env, r.code, r.stderr)
	}
	compose("ps", "-a")
	noHalfMade(t, root)
	if r := compose("up", "-d"); r.code != 0 {
		t.Fatalf("up after the crash: %s", r.stderr)
	}
	if got := compose("exec", "-T", "web", "cat", "/cache/mark").stdout; got != "cached\n" {
		t.Errorf("web's anonymous volume after the crash and the next up: %q, want the predecessor's", got)
	}
	noHalfMade(t, root)
	tornDown(t, root, compose)
}

// crashed runs berth in the project directory dir with the crash hook
// set at step.
func crashed(t *testing.T, dir, root, step string, args ...string) result {
	t.Helper()
	return berthEnv(t, dir, []string{crash.Env + "=" + step}, "", append([]string{"--root", root}, args...)...)
}

// seedData puts a file in the external named volume that every check
// expects to find again.
func seedData(t *testing.T, compose func(args ...string) result) {
	t.Helper()
	if r := compose("volume", "create", "crashdata"); r.code != 0 {
		t.Fatalf("volume create: %s", r.stderr)
	}
	t.Cleanup(func() { compose("volume", "rm", "crashdata") })
	if r := compose("run", "--rm", "--no-deps", "-T", "db", "sh", "-c", "echo kept > /data/mark"); r.code != 0 {
		t.Fatalf("seeding the volume: %s", r.stderr)
	}
}

// tornDown runs down -v and checks that nothing of the project is left
// and that the named volume's data is.
func tornDown(t *testing.T, root string, compose func(args ...string) result) {
	t.Helper()
	ids := containerIDs(compose)
	netID := strings.TrimSpace(compose("network", "inspect", "-f", "{{.Id}}", "crashy_default").stdout)
	if r := compose("down", "-v", "-t", "0"); r.code != 0 {
		t.Fatalf("down -v: %s", r.stderr)
	}
	noHalfMade(t, root)
	if ids := containerIDs(compose); len(ids) > 0 {
		t.Errorf("containers left after down -v: %v", ids)
	}
	if out := compose("volume", "ls", "-q").stdout; strings.TrimSpace(out) != "crashdata" {
		t.Errorf("volumes after down -v: %q, want the external one alone", out)
	}
	if out := compose("network", "ls", "--format", "{{.Name}}").stdout; strings.Contains(out, "crashy") {
		t.Errorf("networks after down -v:\n%s", out)
	}
	if len(netID) >= 12 {
		if _, err := os.Stat("/sys/class/net/br-" + netID[:12]); err == nil {
			t.Errorf("bridge br-%s left after down -v", netID[:12])
		}
	}
	if data, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(data), root+"/containers") || strings.Contains(string(data), root+"/image-view") {
		t.Errorf("mounts left under %s", root)
	}
	for _, id := range ids {
		if cg, _ := filepath.Glob("/sys/fs/cgroup/*/berth/" + id); len(cg) > 0 {
			t.Errorf("cgroups left: %v", cg)
		}
		if cg, _ := filepath.Glob("/sys/fs/cgroup/berth/" + id); len(cg) > 0 {
			t.Errorf("cgroups left: %v", cg)
		}
		if pids := processesNaming(id); len(pids) > 0 {
			t.Errorf("processes of container %s left: %v", id[:12], pids)
		}
	}
	if got := readVolume(t, root, "crashdata", "mark"); got != "kept\n" {
		t.Errorf("named volume data: %q, want it kept", got)
	}
}

// noHalfMade fails the test if the root holds what no command sees: a
// container directory without a whole record, an intent, an image view,
// a copy-up directory, a volume without metadata, an anonymous volume no
// container has, or a DNS entry, network namespace or runtime state of a
// container that is not there.
func noHalfMade(t *testing.T, root string) {
	t.Helper()
	dir := filepath.Join(root, "containers")
	known := map[string]bool{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		for _, f := range []string{"config.json", "state.json"} {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), f)); err != nil {
				t.Errorf("container directory %s without %s", e.Name()[:12], f)
			}
		}
		known[e.Name()] = true
	}
	if left, _ := os.ReadDir(filepath.Join(dir, ".intents")); len(left) > 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("intents left: %v", names)
	}
	if views, _ := filepath.Glob(filepath.Join(root, "image-view-*")); len(views) > 0 {
		t.Errorf("image views left: %v", views)
	}
	used := map[string]bool{}
	for id := range known {
		data, _ := os.ReadFile(filepath.Join(dir, id, "config.json"))
		for _, line := range strings.Split(string(data), "\n") {
			if name, ok := strings.CutPrefix(strings.TrimSpace(line), `"Name": "`); ok {
				used[strings.TrimSuffix(strings.TrimSuffix(name, ","), `"`)] = true
			}
		}
	}
	vols, _ := os.ReadDir(filepath.Join(root, "volumes"))
	for _, v := range vols {
		if !v.IsDir() {
			continue
		}
		vdir := filepath.Join(root, "volumes", v.Name())
		meta, err := os.ReadFile(filepath.Join(vdir, "meta.json"))
		if err != nil {
			t.Errorf("volume directory %s without meta.json", v.Name())
			continue
		}
		if copies, _ := filepath.Glob(filepath.Join(vdir, "copyup-*")); len(copies) > 0 {
			t.Errorf("copy-up directories left: %v", copies)
		}
		if strings.Contains(string(meta), "com.docker.volume.anonymous") && !used[v.Name()] && !handedOver(root, v.Name()) {
			t.Errorf("anonymous volume %s that no container has", v.Name()[:12])
		}
	}
	run := monitor.RunDir(root)
	for _, sub := range []string{"", "netns"} {
		es, _ := os.ReadDir(filepath.Join(run, sub))
		for _, e := range es {
			if len(e.Name()) == 64 && !known[e.Name()] {
				t.Errorf("%s of a container that is gone: %s", cmpOr(sub, "runtime state"), e.Name()[:12])
			}
		}
	}
	nets, _ := os.ReadDir(filepath.Join(run, "dns"))
	for _, n := range nets {
		files, _ := os.ReadDir(filepath.Join(run, "dns", n.Name()))
		for _, f := range files {
			if id := strings.TrimSuffix(f.Name(), ".json"); !known[id] {
				t.Errorf("DNS entry of a container that is gone: %s/%s", n.Name(), f.Name())
			}
		}
	}
}

// handedOver reports whether a recreation cut short hands volume name
// over to a container's successor (engine's handover files).
func handedOver(root, name string) bool {
	files, _ := filepath.Glob(filepath.Join(root, "projects", "*", "handover", "*.json"))
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil && strings.Contains(string(data), `"`+name+`"`) {
			return true
		}
	}
	return false
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// containerIDs are the full IDs of every container of the root.
func containerIDs(compose func(args ...string) result) []string {
	return strings.Fields(compose("container", "ps", "-a", "-q", "--no-trunc").stdout)
}

// processesNaming are the PIDs of processes whose command line names id
// (a container's monitor names its container).
func processesNaming(id string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), id) {
			out = append(out, filepath.Base(filepath.Dir(p)))
		}
	}
	return out
}

// readVolume reads a file of a volume's data, on the host.
func readVolume(t *testing.T, root, volume, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "volumes", volume, "_data", file))
	if err != nil {
		t.Errorf("reading volume %s: %v", volume, err)
	}
	return string(data)
}

// TestFailedCreateVolumes: a create that fails after it made an anonymous
// volume (here a later mount is refused; in an up, a sibling's failure
// cancelling a copy-up does the same) removes that volume, which no
// container would ever name, so that neither rm -v nor down -v could.
func TestFailedCreateVolumes(t *testing.T) {
	root, run := busyboxRoot(t)
	missing := filepath.Join(t.TempDir(), "missing")
	r := run("container", "create", "-v", "/etc", "-v", "/cache", "--mount", "type=bind,source="+missing+",target=/b", "bb:1", "true")
	if r.code == 0 || !strings.Contains(r.stderr, "bind source path does not exist") {
		t.Fatalf("create with a missing bind source: exit %d, %q", r.code, r.stderr)
	}
	if out := run("volume", "ls", "-q").stdout; out != "" {
		t.Errorf("volumes left by the failed create:\n%s", out)
	}
	noHalfMade(t, root)
}
