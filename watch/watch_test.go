package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/fsnotify/fsnotify"
)

func project(dir string, develop map[string][]types.Trigger) *types.Project {
	p := &types.Project{Name: "w", WorkingDir: dir, Services: types.Services{}}
	for name, triggers := range develop {
		s := types.ServiceConfig{Name: name}
		if triggers != nil {
			s.Develop = &types.DevelopConfig{Watch: triggers}
		}
		p.Services[name] = s
	}
	return p
}

func TestRulesRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		triggers []types.Trigger
		want     string
	}{
		{nil, "none of the selected services is configured for watch"},
		{[]types.Trigger{{Path: "src", Action: types.WatchActionRebuild}}, `service "app": develop.watch: action rebuild needs a build: section`},
		{[]types.Trigger{{Path: "src", Action: types.WatchActionSync, Target: "relative"}}, `needs an absolute target in the container, not "relative"`},
		{[]types.Trigger{{Path: "src", Action: types.WatchActionSyncExec, Target: "/app"}}, "action sync+exec needs an exec command"},
		{[]types.Trigger{{Path: "src", Action: "teleport"}}, `unknown action "teleport"`},
		{[]types.Trigger{{Action: types.WatchActionRestart}}, "a rule needs a path"},
	} {
		_, err := Rules(project(dir, map[string][]types.Trigger{"app": tc.triggers}))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.triggers, err, tc.want)
		}
	}
}

func TestMatch(t *testing.T) {
	dir := t.TempDir()
	rules, err := Rules(project(dir, map[string][]types.Trigger{
		"app": {{Path: "src", Action: types.WatchActionSync, Target: "/app", Ignore: []string{"node_modules/", "*.log"}}},
		"cfg": {{Path: "conf", Action: types.WatchActionRestart, Include: []string{"*.ini"}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	at := func(rel string) string { return filepath.Join(dir, rel) }
	for _, tc := range []struct {
		path, service, container string // service "": no rule matches
	}{
		{"src/main.go", "app", "/app/main.go"},
		{"src/pkg/util.go", "app", "/app/pkg/util.go"},
		{"src", "app", "/app"},
		{"src/node_modules/x/index.js", "", ""},
		{"src/debug.log", "", ""},
		{"src/.git/HEAD", "", ""},
		{"src/.main.go.swp", "", ""},
		{"src/main.go~", "", ""},
		{"srcother/main.go", "", ""},
		{"conf/app.ini", "cfg", ""},
		{"conf/readme.md", "", ""},
		{"elsewhere", "", ""},
	} {
		service, container := "", ""
		for _, r := range rules {
			if c, ok := r.Match(at(tc.path)); ok {
				service, container = r.Service, c.ContainerPath
			}
		}
		if service != tc.service || container != tc.container {
			t.Errorf("%s: matched %q at %q, want %q at %q", tc.path, service, container, tc.service, tc.container)
		}
	}
}

// recorder is a Target that notes what it is asked.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) Sync(_ context.Context, service string, changes []Change) error {
	var parts []string
	for _, c := range changes {
		_, err := os.Stat(c.HostPath)
		parts = append(parts, fmt.Sprintf("%s(%v)", c.ContainerPath, err == nil))
	}
	slices.Sort(parts)
	r.note("sync " + service + " " + strings.Join(parts, " "))
	return nil
}

func (r *recorder) Restart(_ context.Context, services []string) error {
	r.note("restart " + strings.Join(services, ","))
	return nil
}

func (r *recorder) Exec(_ context.Context, service string, hook types.ServiceHook) error {
	r.note("exec " + service + " " + strings.Join(hook.Command, " "))
	return nil
}

func (r *recorder) Rebuild(_ context.Context, services []string) error {
	r.note("rebuild " + strings.Join(services, ","))
	return nil
}

func (r *recorder) wait(t *testing.T, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r.mu.Lock()
		got := slices.Clone(r.calls)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("waited for %d calls, got %q", n, r.calls)
	return nil
}

// TestRun: real files changed under real watches; the target hears each
// batch once the files are quiet.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"src", "conf"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "src", "old.txt"), []byte("old"), 0o644)
	rules, err := Rules(project(dir, map[string][]types.Trigger{
		"app": {{Path: "src", Action: types.WatchActionSyncExec, Target: "/app", InitialSync: true, Exec: types.ServiceHook{Command: []string{"reload"}}}},
		"cfg": {{Path: "conf", Action: types.WatchActionSyncRestart, Target: "/etc/cfg"}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	var logged []string
	var logMu sync.Mutex
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Rules: rules, Target: rec, Quiet: 200 * time.Millisecond, Log: func(s string) {
			logMu.Lock()
			logged = append(logged, s)
			logMu.Unlock()
		}})
	}()
	// the initial sync comes before the watch is said to be on
	if got := rec.wait(t, 1); got[0] != "sync app /app/old.txt(true)" {
		t.Errorf("initial sync: %q", got)
	}
	for i := 0; i < 500; i++ {
		logMu.Lock()
		on := slices.Contains(logged, "Watch enabled")
		logMu.Unlock()
		if on {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// a burst: a file written, a directory made with a file in it, a file
	// removed, an editor's swap file; then a config file
	os.WriteFile(filepath.Join(dir, "src", "new.txt"), []byte("new"), 0o644)
	os.MkdirAll(filepath.Join(dir, "src", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "sub", "deep.txt"), []byte("deep"), 0o644)
	os.Remove(filepath.Join(dir, "src", "old.txt"))
	os.WriteFile(filepath.Join(dir, "src", ".new.txt.swp"), []byte("x"), 0o644)
	got := rec.wait(t, 3)
	if got[1] != "sync app /app/new.txt(true) /app/old.txt(false) /app/sub(true) /app/sub/deep.txt(true)" || got[2] != "exec app reload" {
		t.Errorf("after the burst: %q", got[1:])
	}
	os.WriteFile(filepath.Join(dir, "conf", "app.ini"), []byte("x=1"), 0o644)
	got = rec.wait(t, 5)
	if got[3] != "sync cfg /etc/cfg/app.ini(true)" || got[4] != "restart cfg" {
		t.Errorf("after the config change: %q", got[3:])
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	logMu.Lock()
	defer logMu.Unlock()
	want := []string{"Watch enabled", `Syncing service "app" after 4 changes were detected`, `Syncing service "cfg" after 1 changes were detected`, `service(s) ["cfg"] restarted`, "Watch disabled"}
	if !slices.Equal(logged, want) {
		t.Errorf("log:\n%q\nwant\n%q", logged, want)
	}
}

// TestAddSkipsIgnored: the directories a rule ignores take no inotify
// watch; the others do, the rule's own path included.
func TestAddSkipsIgnored(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"src/pkg", "src/node_modules/a/b", "src/.git/objects"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	rules, err := Rules(project(dir, map[string][]types.Trigger{
		"app": {{Path: "src", Action: types.WatchActionSync, Target: "/app", Ignore: []string{"node_modules/"}, Include: []string{"*.go"}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := rules[0].add(w, rules[0].Path); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range w.WatchList() {
		rel, _ := filepath.Rel(dir, p)
		got = append(got, rel)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"src", "src/pkg"}) {
		t.Errorf("watched %q, want src and src/pkg", got)
	}
}

// TestInitialWithInclude: an initial sync with include patterns finds the
// included files in subdirectories, whose own names the patterns do not
// match, and leaves out ignored directories.
func TestInitialWithInclude(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"src/main.go", "src/pkg/util.go", "src/pkg/notes.txt", "src/vendor/x.go", "src/compose.yaml"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	rules, err := Rules(project(dir, map[string][]types.Trigger{
		"app": {{Path: "src", Action: types.WatchActionSync, Target: "/app", Include: []string{"**/*.go"}, Ignore: []string{"vendor/"}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	changes, err := rules[0].initial()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.ContainerPath)
	}
	if !slices.Equal(got, []string{"/app/main.go", "/app/pkg/util.go"}) {
		t.Errorf("initial sync: %q", got)
	}
}
