package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// follower is a berth command (logs -f) running in the background, its
// output read while it runs.
type follower struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

// lockedWriter writes into a follower's buffer under its lock.
type lockedWriter struct {
	f *follower
	b *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	return w.b.Write(p)
}

// start runs berth --context C -p P ARGS in the background; it is killed
// when t ends, if still running.
func (o *onCluster) start(t *testing.T, args ...string) *follower {
	t.Helper()
	f := &follower{cmd: exec.Command(berthBin, o.args(true, args...)...), done: make(chan struct{})}
	f.cmd.Dir, f.cmd.Env = o.dir, o.env()
	f.cmd.Stdout, f.cmd.Stderr = lockedWriter{f, &f.stdout}, lockedWriter{f, &f.stderr}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		f.err = f.cmd.Wait()
		close(f.done)
	}()
	t.Cleanup(func() {
		select {
		case <-f.done:
		default:
			f.cmd.Process.Kill()
			<-f.done
		}
	})
	return f
}

func (f *follower) output() (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stdout.String(), f.stderr.String()
}

// lines are the follower's lines so far, by prefix (the name before
// " | ", its padding trimmed).
func (f *follower) lines() map[string][]string {
	out, _ := f.output()
	by := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		if name, text, ok := strings.Cut(l, " | "); ok {
			by[strings.TrimSpace(name)] = append(by[strings.TrimSpace(name)], text)
		}
	}
	return by
}

// waitFor waits until the follower has printed a line of prefix name
// that begins with text, and returns that line's text.
func (f *follower) waitFor(t *testing.T, name, text string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, l := range f.lines()[name] {
			if strings.HasPrefix(l, text) {
				return l
			}
		}
		select {
		case <-f.done:
			out, errOut := f.output()
			t.Fatalf("berth %s ended (%v) before it printed %q | %q:\nstdout:\n%s\nstderr:\n%s", strings.Join(f.cmd.Args[1:], " "), f.err, name, text, out, errOut)
		case <-time.After(200 * time.Millisecond):
		}
	}
	out, errOut := f.output()
	t.Fatalf("berth %s printed no line %q | %q in 2 minutes:\nstdout:\n%s\nstderr:\n%s", strings.Join(f.cmd.Args[1:], " "), name, text, out, errOut)
	return ""
}

// interrupt sends the follower SIGINT, a user's Ctrl-C, and returns its
// exit code once it has ended.
func (f *follower) interrupt(t *testing.T) int {
	t.Helper()
	if err := f.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.done:
	case <-time.After(time.Minute):
		t.Fatalf("berth %s still runs a minute after SIGINT", strings.Join(f.cmd.Args[1:], " "))
	}
	var exit *exec.ExitError
	if errors.As(f.err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("berth %s was killed by %v", strings.Join(f.cmd.Args[1:], " "), ws.Signal())
		}
		return exit.ExitCode()
	}
	if f.err != nil {
		t.Fatal(f.err)
	}
	return 0
}

// TestKubeFollow: logs -f started before a rollout and a scale follows
// the pods they make, each with a prefix of its own (a new pod gets the
// next number of its service), a new service's pod and its container's
// next run after a restart, and ends at Ctrl-C as an interrupted command
// does (exit 130, nothing on stderr).
func TestKubeFollow(t *testing.T) {
	c, o, image := onNewCluster(t, "kf")
	project := o.project
	web := func(greeting string) string {
		return fmt.Sprintf(`services:
  web:
    image: %s
    command: ["sh", "-c", "echo web $$GREETING on $$(cat /etc/hostname); exec sleep 3600"]
    environment:
      GREETING: %s
    stop_grace_period: 1s
`, image, greeting)
	}
	o.write(t, web("one"))
	o.run(t, "up", "-d", "--wait")

	f := o.start(t, "logs", "-f", "--no-color")
	first := f.waitFor(t, "web-1", "web one on web-")

	// a changed environment: a rollout, whose new pod replaces web-1's
	o.write(t, web("two"))
	o.run(t, "up", "-d", "--wait")
	second := f.waitFor(t, "web-2", "web two on web-")
	host := func(l string) string { return l[strings.LastIndex(l, " ")+1:] }
	if host(second) == host(first) {
		t.Errorf("web-2 is web-1's pod: %q, %q", first, second)
	}

	// a higher scale: one more pod beside it
	o.run(t, "up", "-d", "--wait", "--scale", "web=2")
	third := f.waitFor(t, "web-3", "web two on web-")
	if host(third) == host(second) {
		t.Errorf("web-3 is web-2's pod: %q", third)
	}
	// each pod's lines once, under its own prefix
	for name, lines := range f.lines() {
		if len(lines) != 1 {
			t.Errorf("%s printed %q; want one line", name, lines)
		}
	}

	// a container that ends and is restarted: its next run is followed
	// too, under its pod's prefix
	o.write(t, web("two")+`  blink:
    image: `+image+`
    command: ["sh", "-c", "echo blink ran; sleep 8"]
    stop_grace_period: 1s
`)
	o.run(t, "up", "-d", "--wait", "--scale", "web=2")
	f.waitFor(t, "blink-1", "blink ran")
	deadline := time.Now().Add(2 * time.Minute)
	for len(f.lines()["blink-1"]) < 2 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if got := f.lines()["blink-1"]; len(got) != 2 {
		restarts := c.kubectl(t, "", "-n", project, "get", "pods", "-l", "com.docker.compose.service=blink",
			"-o", "jsonpath={.items[*].status.containerStatuses[*].restartCount}")
		t.Errorf("blink-1 printed %q; want its first and second run's line (restarts: %s)", got, restarts)
	}

	if code := f.interrupt(t); code != 130 {
		out, errOut := f.output()
		t.Errorf("logs -f after SIGINT: exit %d, want 130\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if _, errOut := f.output(); errOut != "" {
		t.Errorf("logs -f after SIGINT said: %q", errOut)
	}
}

// TestKubeOwnNamespace: a kubeconfig context that names its own
// namespace puts the whole project there, and down -v leaves that
// namespace, which berth did not make, where it is.
func TestKubeOwnNamespace(t *testing.T) {
	c, o, image := onNewCluster(t, "kn")
	project := o.project
	ns := project + "-theirs"
	c.kubectl(t, "", "create", "namespace", ns)
	t.Cleanup(func() { c.tryKubectl("", "delete", "namespace", ns, "--wait=false") })
	// a copy of the cluster's kubeconfig whose context names ns
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(c.kubectl(t, "", "config", "view", "--raw", "--flatten")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(c.Kubectl, "--kubeconfig", kc, "config", "set-context", o.context, "--namespace", ns).CombinedOutput(); err != nil {
		t.Fatalf("kubectl config set-context %s --namespace %s: %v\n%s", o.context, ns, err, out)
	}
	o.kubeconfig = kc
	o.write(t, `services:
  web:
    image: `+image+`
    command: ["sh", "-c", "mkdir -p /tmp/www && cp /motd /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]
    expose: ["8080"]
    configs:
      - source: motd
        target: /motd
    stop_grace_period: 1s
configs:
  motd:
    content: hello
`)
	_, progress := o.run(t, "up", "-d", "--wait")
	if strings.Contains(progress, "Namespace") {
		t.Errorf("up in a context's namespace made one:\n%s", progress)
	}
	where := c.kubectl(t, "", "get", berthKinds+",pods", "-A", "-l", "com.docker.compose.project="+project, "-o",
		`jsonpath={range .items[*]}{.kind}/{.metadata.name} {.metadata.namespace}{"\n"}{end}`)
	kinds := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(where), "\n") {
		obj, in, _ := strings.Cut(l, " ")
		kinds[strings.Split(obj, "/")[0]] = true
		if in != ns {
			t.Errorf("%s is in namespace %q, want the context's %q", obj, in, ns)
		}
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "Pod"} {
		if !kinds[k] {
			t.Errorf("no %s of the project in %s:\n%s", k, ns, where)
		}
	}
	if out, err := c.tryKubectl("", "get", "namespace", project); err == nil {
		t.Errorf("up made namespace %s beside the context's: %s", project, out)
	}
	if out, _ := o.run(t, "ps", "-q"); !strings.HasPrefix(out, "web-") {
		t.Errorf("ps -q in the context's namespace: %q", out)
	}
	if out, _ := o.run(t, "exec", "-T", "web", "cat", "/motd"); out != "hello" {
		t.Errorf("exec web cat /motd: %q", out)
	}

	_, progress = o.run(t, "down", "-v")
	if strings.Contains(progress, "Namespace") {
		t.Errorf("down -v in a context's namespace said:\n%s", progress)
	}
	if left := o.labelled(t, berthKinds+",pods"); len(left) != 0 {
		t.Errorf("after down -v: %v", left)
	}
	phase := c.kubectl(t, "", "get", "namespace", ns, "-o", "jsonpath={.status.phase} {.metadata.deletionTimestamp}")
	if strings.TrimSpace(phase) != "Active" {
		t.Errorf("namespace %s after down -v: %q; want it Active, not being deleted", ns, phase)
	}
}

// TestKubeDaemonSet: a service of deploy.mode global is a DaemonSet that
// up waits for to be Ready, ps shows its pod and down removes.
func TestKubeDaemonSet(t *testing.T) {
	_, o, image := onNewCluster(t, "kd")
	project := o.project
	o.write(t, `services:
  agent:
    image: `+image+`
    command: ["sh", "-c", "echo agent on $$(cat /etc/hostname); exec sleep 3600"]
    deploy:
      mode: global
    stop_grace_period: 1s
`)
	_, progress := o.run(t, "up", "-d", "--wait")
	for _, want := range []string{" DaemonSet agent  Created\n", " DaemonSet agent  Ready\n"} {
		if !strings.Contains(progress, want) {
			t.Errorf("up's progress has no line %q:\n%s", strings.TrimSpace(want), progress)
		}
	}
	if got := o.labelled(t, "daemonsets"); len(got) != 1 || got["DaemonSet/agent"] == "" {
		t.Errorf("DaemonSets of the project: %v", got)
	}
	out, _ := o.run(t, "ps")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 2 {
		t.Fatalf("ps: want a header and the one node's pod:\n%s", out)
	}
	f := strings.Fields(rows[1])
	if len(f) < 6 || !strings.HasPrefix(f[0], "agent-") || f[1] != image || f[2] != "agent" || !strings.Contains(rows[1], "Running") {
		t.Errorf("ps row %q: want pod agent-..., image %s, service agent, Running", rows[1], image)
	}
	if out, _ := o.run(t, "logs", "--no-color", "agent"); !strings.HasPrefix(out, "agent-1  | agent on "+f[0]) {
		t.Errorf("logs agent: %q", out)
	}

	_, progress = o.run(t, "down")
	if !strings.Contains(progress, " DaemonSet agent  Removed\n") {
		t.Errorf("down's progress:\n%s", progress)
	}
	left := o.labelled(t, berthKinds+",pods")
	delete(left, "Namespace/"+project)
	if len(left) != 0 {
		t.Errorf("after down: %v", left)
	}
	if out, _ := o.run(t, "ps", "-q"); out != "" {
		t.Errorf("ps -q after down: %q", out)
	}
}
