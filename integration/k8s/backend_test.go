package k8s

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// onCluster runs berth against the cluster's context in dir: -p project,
// the compose.yaml of dir.
type onCluster struct {
	c       *cluster
	context string
	dir     string
	project string
	root    string
	// kubeconfig is the cluster's unless a test writes its own
	kubeconfig string
}

func newOnCluster(t testing.TB, c *cluster, project string) *onCluster {
	t.Helper()
	ctxName := strings.TrimSpace(c.kubectl(t, "", "config", "current-context"))
	return &onCluster{c: c, context: ctxName, dir: t.TempDir(), project: project, root: stateRoot(t), kubeconfig: c.Kubeconfig}
}

// onNewCluster starts the test cluster and readies a project on it, named
// prefix and a number of this run: busybox pushed to the cluster's
// registry as PROJECT/box:1, whose reference it returns.
func onNewCluster(t testing.TB, prefix string) (*cluster, *onCluster, string) {
	t.Helper()
	c := startCluster(t)
	project := uniqueName(prefix)
	image := c.pushBusybox(t, project+"/box")
	return c, newOnCluster(t, c, project), image
}

// uniqueName is prefix and a number of this run, for names tests do not
// share.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1_000_000)
}

func (o *onCluster) write(t testing.TB, compose string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(o.dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
}

// try runs berth --context C -p P ARGS and returns its stdout, stderr and
// exit code.
func (o *onCluster) try(args ...string) (string, string, int) { return o.berth(true, args...) }

// tryHere is try without the context: berth -p P ARGS, on this machine.
func (o *onCluster) tryHere(args ...string) (string, string, int) { return o.berth(false, args...) }

func (o *onCluster) berth(onCluster bool, args ...string) (string, string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return runBerth(ctx, o.dir, o.env(), o.args(onCluster, args...)...)
}

// args are berth's arguments for ARGS: --root R [--context C] -p P ARGS.
func (o *onCluster) args(onCluster bool, args ...string) []string {
	full := []string{"--root", o.root}
	if onCluster {
		full = append(full, "--context", o.context)
	}
	return append(append(full, "-p", o.project), args...)
}

// env is the test's environment with o's kubeconfig, and no BERTH_CONTEXT
// of the host's: the context is the one --context names, or none.
func (o *onCluster) env() []string {
	return append(os.Environ(), "KUBECONFIG="+o.kubeconfig, "BERTH_CONTEXT=")
}

// run is try, failing t unless berth exits 0.
func (o *onCluster) run(t testing.TB, args ...string) (string, string) {
	t.Helper()
	began := time.Now()
	out, errOut, code := o.try(args...)
	t.Logf("berth %s: %s", strings.Join(args, " "), time.Since(began).Round(10*time.Millisecond))
	if code != 0 {
		describe, _ := o.c.tryKubectl("", "-n", o.project, "get", "all,pvc", "-o", "wide")
		t.Fatalf("berth %s: exit %d\nstdout: %s\nstderr: %s\ncluster:\n%s", strings.Join(args, " "), code, out, errOut, describe)
	}
	return out, errOut
}

// labelled lists what carries the project's labels: kind/name=resourceVersion
// generation uid, one a line.
func (o *onCluster) labelled(t testing.TB, kinds string) map[string]string {
	t.Helper()
	out := o.c.kubectl(t, "", "get", kinds, "-A", "-l", "com.docker.compose.project="+o.project, "-o",
		`jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion} {.metadata.generation} {.metadata.uid}{"\n"}{end}`)
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// upUnchanged runs berth ARGS, an up with nothing to change, and checks
// that it wrote nothing: each object of kinds that carries the project's
// labels keeps its resourceVersion, generation and uid, none is added,
// and the progress has no Created, Configured or Deleted line. It
// returns the objects.
func (o *onCluster) upUnchanged(t testing.TB, kinds string, args ...string) map[string]string {
	t.Helper()
	before := o.labelled(t, kinds)
	_, progress := o.run(t, args...)
	after := o.labelled(t, kinds)
	what := "a second berth " + strings.Join(args, " ")
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed %s: %s → %s", what, k, v, after[k])
		}
	}
	if len(before) != len(after) {
		t.Errorf("%s: objects before %v, after %v", what, before, after)
	}
	for _, l := range strings.Split(strings.TrimSpace(progress), "\n") {
		if strings.Contains(l, "Created") || strings.Contains(l, "Configured") || strings.Contains(l, "Deleted") {
			t.Errorf("%s with nothing changed said %q", what, l)
		}
	}
	return before
}

const berthKinds = "namespaces,configmaps,secrets,persistentvolumeclaims,services,networkpolicies,deployments,statefulsets,daemonsets,jobs"

// stack is the 3-service project: a one-shot job seed that web waits to
// complete, web (an HTTP server others reach by name), db with a named
// volume.
func stack(image, greeting, extra string) string {
	return fmt.Sprintf(`services:
  seed:
    image: %[1]s
    command: ["sh", "-c", "echo seeded"]
    stop_grace_period: 1s
  web:
    image: %[1]s
    command: ["sh", "-c", "mkdir -p /tmp/www && echo hello from web $$GREETING >/tmp/www/index.html && echo web started && exec httpd -f -p 8080 -h /tmp/www"]
    expose: ["8080"]
    scale: 2
    environment:
      GREETING: %[2]s
    depends_on:
      seed:
        condition: service_completed_successfully
      db:
        condition: service_started
    stop_grace_period: 1s
  db:
    image: %[1]s
    command: ["sh", "-c", "echo row >>/data/rows && echo db has $$(cat /data/rows | wc -l) rows && exec sleep 3600"]
    volumes:
      - data:/data
    stop_grace_period: 1s
%[3]s
volumes:
  data: {}
`, image, greeting, extra)
}

// TestKubeBackend runs a compose project on the test cluster with berth
// --context: up --wait to Ready (a Job before the web, a StatefulSet
// with a claim), a pod reaching another by service name (berth exec),
// ps, logs, exec's exit code, a second up that changes nothing (the
// resourceVersions kept), a changed environment rolling only its
// Deployment, rollouts that never become ready (crash loop, image pull)
// named with their pod and why, prune, an invalid object named with its
// service, RBAC's forbidden, down keeping the claim and down -v removing
// it.
func TestKubeBackend(t *testing.T) {
	c, o, image := onNewCluster(t, "kb")
	project := o.project
	// the cluster has no provisioner: the administrator's volume, which
	// the project's claim binds
	pv := filepath.Join(t.TempDir(), "pv")
	c.kubectl(t, fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata: {name: %s-pv}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: %s, type: DirectoryOrCreate}
`, project, pv), "apply", "-f", "-")

	t.Run("convert accepted by the API server", func(t *testing.T) { testCorpusDryRun(t, c, o.context) })

	o.write(t, stack(image, "one", ""))
	_, progress := o.run(t, "up", "-d", "--wait", "--wait-timeout", "180")
	for _, want := range []string{"Namespace " + project + "  Created", "PersistentVolumeClaim data  Created", "Service web  Created",
		"Job seed  Created", "StatefulSet db  Created", "Deployment web  Created", "Job seed  Completed", "Deployment web  Ready", "StatefulSet db  Ready"} {
		if !strings.Contains(progress, " "+want+"\n") {
			t.Errorf("up's progress has no line %q:\n%s", want, progress)
		}
	}
	// web waits for seed to complete (service_completed_successfully):
	// its Deployment is applied after the Job completed
	if done, made := strings.Index(progress, " Job seed  Completed\n"), strings.Index(progress, " Deployment web  Created\n"); done < 0 || made < done {
		t.Errorf("up applied web before seed completed:\n%s", progress)
	}

	t.Run("traffic", func(t *testing.T) {
		// db's pod reaches web by its service name
		var out, errOut string
		code := -1
		for i := 0; i < 60; i++ {
			out, errOut, code = o.try("exec", "-T", "db", "sh", "-c", `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 web 8080`)
			if code == 0 && strings.Contains(out, "hello from web one") {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Errorf("http://web:8080/ from db: exit %d %q %q; want the web page", code, out, errOut)
	})

	t.Run("exec", func(t *testing.T) {
		out, errOut, code := o.try("exec", "-T", "web", "sh", "-c", "echo out; echo err >&2; exit 3")
		if code != 3 || out != "out\n" || errOut != "err\n" {
			t.Errorf("exec: exit %d, stdout %q, stderr %q; want 3, out, err", code, out, errOut)
		}
		if _, errOut, code := o.try("exec", "-T", "web", "no-such-command"); code != 127 || !strings.Contains(errOut, `"no-such-command": executable file not found`) {
			t.Errorf("exec of a command the image lacks: exit %d, %q; want 127 and why, as a local exec", code, errOut)
		}
		one, _, _ := o.try("exec", "-T", "web", "cat", "/etc/hostname")
		two, errOut, code := o.try("exec", "-T", "--index", "2", "web", "cat", "/etc/hostname")
		if code != 0 || !strings.HasPrefix(two, "web-") || two == one {
			t.Errorf("exec --index 2 web: exit %d, %q %q; want the other pod than --index 1's %q", code, two, errOut, one)
		}
		if _, errOut, code := o.try("exec", "-T", "--index", "3", "web", "true"); code != 1 || !strings.Contains(errOut, `service "web" has no running pod of index 3: it has 2`) {
			t.Errorf("exec --index 3 of a 2-replica service: exit %d, %q", code, errOut)
		}
	})

	t.Run("ps", func(t *testing.T) {
		out, _ := o.run(t, "ps")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 5 || !strings.HasPrefix(lines[0], "NAME") {
			t.Fatalf("ps: want a header and 4 pods:\n%s", out)
		}
		want := map[string]string{"db": "Running", "seed": "Succeeded", "web": "Running"}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) < 6 || f[1] != image || want[f[2]] == "" || !strings.Contains(l, want[f[2]]) {
				t.Errorf("ps row %q: want image %s and the service's state %v", l, image, want)
			}
		}
		if out, _ := o.run(t, "ps", "--services"); out != "db\nseed\nweb\n" {
			t.Errorf("ps --services: %q", out)
		}
	})

	t.Run("logs", func(t *testing.T) {
		out, _ := o.run(t, "logs", "--no-color", "web", "seed")
		for _, want := range []string{"web-1   | web started", "web-2   | web started", "seed-1  | seeded"} {
			if !strings.Contains(out, want) {
				t.Errorf("logs: no %q in\n%s", want, out)
			}
		}
		out, _ = o.run(t, "logs", "--no-color", "--tail", "1", "db")
		if strings.TrimSpace(out) != "db-1  | db has 1 rows" {
			t.Errorf("logs --tail 1 db: %q", out)
		}
		// -f follows until the pod's log ends: here, until berth is stopped
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		out2, _, _ := runBerth(ctx, "", append(os.Environ(), "KUBECONFIG="+o.kubeconfig), o.args(true, "logs", "-f", "--no-color", "web")...)
		if ctx.Err() == nil {
			t.Errorf("logs -f web ended before it was stopped: %q", out2)
		}
		if !strings.Contains(string(out2), "web-1  | web started") {
			t.Errorf("logs -f web: %q", out2)
		}
	})

	t.Run("unchanged", func(t *testing.T) {
		if objects := o.upUnchanged(t, berthKinds, "up", "-d", "--wait"); len(objects) < 7 {
			t.Errorf("objects of the project: %v; want 7 or more", objects)
		}
	})

	t.Run("rolls only the changed service", func(t *testing.T) {
		before := o.labelled(t, "deployments,statefulsets,jobs")
		o.write(t, stack(image, "two", ""))
		_, progress := o.run(t, "up", "-d", "--wait", "--wait-timeout", "120")
		after := o.labelled(t, "deployments,statefulsets,jobs")
		gen := func(s string) string { return strings.Fields(s)[1] }
		if gen(after["Deployment/web"]) == gen(before["Deployment/web"]) {
			t.Errorf("web's Deployment did not roll: %s → %s", before["Deployment/web"], after["Deployment/web"])
		}
		for _, k := range []string{"StatefulSet/db", "Job/seed"} {
			if after[k] != before[k] {
				t.Errorf("%s changed with web's environment: %s → %s", k, before[k], after[k])
			}
		}
		if !strings.Contains(progress, " Deployment web  Configured\n") || !strings.Contains(progress, " StatefulSet db  Unchanged\n") {
			t.Errorf("progress:\n%s", progress)
		}
		out, _, _ := o.try("exec", "-T", "db", "sh", "-c", `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 web 8080`)
		if !strings.Contains(out, "hello from web two") {
			t.Errorf("web after the change: %q", out)
		}
	})

	t.Run("depends_on service_healthy", func(t *testing.T) {
		// front can start only once api answers: applied with api, it
		// would find no ready endpoint behind api's Service, exit, and
		// crash in a loop; up applies it once api is ready
		o.write(t, stack(image, "two", `  api:
    image: `+image+`
    command: ["sh", "-c", "mkdir -p /tmp/www && echo api answers >/tmp/www/index.html && sleep 3 && touch /tmp/ready && exec httpd -f -p 8081 -h /tmp/www"]
    expose: ["8081"]
    healthcheck:
      test: ["CMD", "cat", "/tmp/ready"]
      interval: 1s
      start_period: 20s
    stop_grace_period: 1s
  front:
    image: `+image+`
    command: ["sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 api 8081 | grep -q 'api answers' || { echo api is not there; exit 1; }; echo front reached api; exec sleep 3600"]
    depends_on:
      api:
        condition: service_healthy
    stop_grace_period: 1s
`))
		_, progress := o.run(t, "up", "-d", "--wait", "--wait-timeout", "120")
		ready := strings.Index(progress, " Deployment api  Ready\n")
		created := strings.Index(progress, " Deployment front  Created\n")
		if ready < 0 || created < 0 || created < ready {
			t.Errorf("up did not wait for api to be ready before it applied front:\n%s", progress)
		}
		out, _ := o.run(t, "logs", "--no-color", "front")
		if strings.TrimSpace(out) != "front-1  | front reached api" {
			t.Errorf("front's log: %q", out)
		}
		// the dependency ready already: a second up waits for nothing
		// new, and writes nothing
		o.upUnchanged(t, berthKinds, "up", "-d", "--wait")
	})

	t.Run("never ready", func(t *testing.T) {
		o.write(t, stack(image, "two", `  crash:
    image: `+image+`
    command: ["sh", "-c", "echo boom-before-exit; exit 1"]
    stop_grace_period: 1s
`))
		_, errOut, code := o.try("up", "-d", "--wait", "--wait-timeout", "120")
		if code == 0 || !strings.Contains(errOut, `service "crash": Deployment "crash" is not ready: pod crash-`) ||
			!strings.Contains(errOut, "CrashLoopBackOff") || !strings.Contains(errOut, "boom-before-exit") {
			t.Errorf("up of a crashing service: exit %d\n%s", code, errOut)
		}
		o.write(t, stack(image, "two", `  broken:
    image: `+c.Registry+`/`+project+`/none:1
    stop_grace_period: 1s
`))
		_, errOut, code = o.try("up", "-d", "--wait", "--wait-timeout", "120")
		if code == 0 || !strings.Contains(errOut, `service "broken": Deployment "broken" is not ready: pod broken-`) ||
			!strings.Contains(errOut, "ImagePullBackOff") {
			t.Errorf("up of a service whose image is not there: exit %d\n%s", code, errOut)
		}
		if !strings.Contains(errOut, " Deployment crash  Deleted\n") {
			t.Errorf("crash was not pruned:\n%s", errOut)
		}
		// a timeout names what it waited for
		o.write(t, stack(image, "two", `  slow:
    image: `+image+`
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
`))
		_, errOut, code = o.try("up", "-d", "--wait", "--wait-timeout", "4")
		if code == 0 || !strings.Contains(errOut, "timeout waiting for the project to be ready after 4s: ") ||
			!strings.Contains(errOut, `service "slow": Deployment "slow" (pod slow-`) || !strings.Contains(errOut, "Running (not ready)") {
			t.Errorf("up --wait-timeout 4 of a service never healthy: exit %d\n%s", code, errOut)
		}
		if !strings.Contains(errOut, " Deployment broken  Deleted\n") {
			t.Errorf("broken was not pruned:\n%s", errOut)
		}
		o.write(t, stack(image, "two", ""))
		_, progress := o.run(t, "up", "-d", "--wait")
		if !strings.Contains(progress, " Deployment slow  Deleted\n") {
			t.Errorf("slow was not pruned:\n%s", progress)
		}
		if got := o.labelled(t, "deployments"); len(got) != 1 {
			t.Errorf("Deployments after the prune: %v", got)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		bad := newOnCluster(t, c, project+"-bad")
		bad.write(t, `services:
  app:
    image: `+image+`
    labels:
      "not a key": "x"
`)
		_, errOut, code := bad.try("--dry-run", "up", "-d")
		if code == 0 || !strings.Contains(errOut, `service "app": Deployment "app": `) || !strings.Contains(errOut, "is invalid") {
			t.Errorf("dry run of an invalid Deployment: exit %d\n%s", code, errOut)
		}
		if strings.Count(strings.TrimSpace(errOut), "berth: ") != 1 {
			t.Errorf("want one error line:\n%s", errOut)
		}
	})

	t.Run("forbidden", func(t *testing.T) {
		// the same credentials, impersonating a user no role binds
		cfg := map[string]any{}
		raw := c.kubectl(t, "", "config", "view", "--raw", "--flatten")
		if err := yaml.Unmarshal([]byte(raw), &cfg); err != nil {
			t.Fatal(err)
		}
		users := cfg["users"].([]any)
		u := users[0].(map[string]any)
		nobody := map[string]any{"name": "nobody", "user": map[string]any{}}
		for k, v := range u["user"].(map[string]any) {
			nobody["user"].(map[string]any)[k] = v
		}
		nobody["user"].(map[string]any)["as"] = "nobody"
		cfg["users"] = append(users, nobody)
		ctx0 := cfg["contexts"].([]any)[0].(map[string]any)["context"].(map[string]any)
		cfg["contexts"] = append(cfg["contexts"].([]any), map[string]any{"name": "nobody",
			"context": map[string]any{"cluster": ctx0["cluster"], "user": "nobody"}})
		b, _ := yaml.Marshal(cfg)
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		n := *o
		n.kubeconfig, n.context = path, "nobody"
		_, errOut, code := n.try("ps")
		if code == 0 || !strings.Contains(errOut, `forbidden on context "nobody" (RBAC)`) || !strings.Contains(errOut, `cannot list resource "pods"`) {
			t.Errorf("ps as a user without rights: exit %d\n%s", code, errOut)
		}
	})

	t.Run("down", func(t *testing.T) {
		_, progress := o.run(t, "down")
		if !strings.Contains(progress, " Deployment web  Removed\n") {
			t.Errorf("down's progress:\n%s", progress)
		}
		left := o.labelled(t, berthKinds+",pods")
		delete(left, "Namespace/"+project)
		if len(left) != 1 || left["PersistentVolumeClaim/data"] == "" {
			t.Errorf("after down, want the claim alone left, have %v", left)
		}
		// a new up finds the claim's data
		o.run(t, "up", "-d", "--wait")
		if out, _ := o.run(t, "logs", "--no-color", "db"); !strings.Contains(out, "db has 2 rows") {
			t.Errorf("db after down and up: %q", out)
		}
		o.run(t, "down", "-v")
		if left := o.labelled(t, berthKinds+",pods"); len(left) != 0 {
			t.Errorf("after down -v: %v", left)
		}
		if out, _ := c.tryKubectl("", "get", "namespace", project); out != "" {
			t.Errorf("namespace %s left after down -v: %s", project, out)
		}
	})
}

// TestKubeContextErrors: the errors of a context before any cluster
// answers: an unknown context, an unreachable cluster, and commands the
// cluster backend does not do, each one line and a non-zero exit.
func TestKubeContextErrors(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: x}
contexts:
- name: gone
  context: {cluster: gone, user: u}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  app:\n    image: busybox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	berthIn := func(env string, args ...string) (string, string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return runBerth(ctx, dir, append(os.Environ(), "KUBECONFIG="+kc, "BERTH_CONTEXT="+env, "BERTH_ROOT="+filepath.Join(dir, "root")), args...)
	}
	for _, tc := range []struct {
		env  string
		args []string
		want string
	}{
		{"", []string{"--context", "nope", "ps"}, `berth: no context "nope" in the kubeconfig (` + kc + ")"},
		{"", []string{"--context", "gone", "ps"}, `berth: cannot reach the cluster of context "gone" at https://127.0.0.1:1: `},
		{"gone", []string{"ps"}, `berth: cannot reach the cluster of context "gone" at https://127.0.0.1:1: `},
		{"", []string{"--context", "gone", "start"}, "berth: berth start is not supported on a Kubernetes context yet"},
		{"", []string{"--context", "gone", "up"}, "berth: berth up without -d is not supported on a Kubernetes context yet"},
		{"", []string{"--context", "gone", "up", "-d", "--build"}, "berth: up --build on a Kubernetes context needs --push: the cluster pulls its images from a registry, not from this machine"},
		{"", []string{"--context", "gone", "image", "ls"}, "berth: berth image ls is not supported on a Kubernetes context yet"},
		{"gone", []string{"run", "app"}, "berth: berth run is not supported on a Kubernetes context yet"},
	} {
		out, errOut, code := berthIn(tc.env, tc.args...)
		if code == 0 || out != "" || !strings.HasPrefix(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("BERTH_CONTEXT=%s berth %s: exit %d, stdout %q, stderr %q; want nothing on stdout and one line %q... on stderr", tc.env, strings.Join(tc.args, " "), code, out, errOut, tc.want)
		}
	}
}
