package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fixture"
)

// upBuildServices are the services of upBuildStack, each built from a
// context of its own.
var upBuildServices = []string{"api", "web", "worker"}

const upBuildStack = `name: %s
services:
  api:
    build: ./api
    init: true
  web:
    build: ./web
    init: true
    depends_on: [api]
  worker:
    build: ./worker
    init: true
`

// upBuildDockerfile: two COPY steps of the context and RUN steps between
// and after them, so that a change in src.txt re-runs from its COPY on.
const upBuildDockerfile = `FROM bb:1
COPY conf.txt /app/conf.txt
RUN echo "built for $(cat /app/conf.txt)" > /app/built
COPY src.txt /app/src.txt
RUN cat /app/src.txt >> /app/built
CMD ["sleep", "3600"]
`

// upBuildProject writes the 3-service project, named name, each service's
// context holding its Dockerfile, conf.txt and src.txt, in a composeRoot,
// and returns its directory and composeRoot's runner.
func upBuildProject(tb testing.TB, name string) (dir string, compose func(args ...string) result) {
	tb.Helper()
	dir, _, compose = composeRoot(tb, fmt.Sprintf(upBuildStack, name))
	for _, s := range upBuildServices {
		ctx := filepath.Join(dir, s)
		os.MkdirAll(ctx, 0o755)
		for file, content := range map[string]string{"Dockerfile": upBuildDockerfile, "conf.txt": s + "\n", "src.txt": "source of " + s + " #0\n"} {
			if err := os.WriteFile(filepath.Join(ctx, file), []byte(content), 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return dir, compose
}

// upBuildState is what a user can see of the project: each service's
// image ID and container ID.
type upBuildState struct{ images, containers map[string]string }

func upBuildLook(tb testing.TB, name string, compose func(args ...string) result) upBuildState {
	tb.Helper()
	st := upBuildState{map[string]string{}, map[string]string{}}
	for _, s := range upBuildServices {
		r := compose("image", "inspect", "-f", "{{.Id}}", name+"-"+s)
		if r.code != 0 {
			tb.Fatalf("image inspect %s-%s: exit %d\n%s", name, s, r.code, r.stderr)
		}
		st.images[s] = strings.TrimSpace(r.stdout)
		r = compose("ps", "-q", s)
		if ids := strings.Fields(r.stdout); r.code != 0 || len(ids) != 1 {
			tb.Fatalf("ps -q %s: exit %d, %q\n%s", s, r.code, r.stdout, r.stderr)
		}
		st.containers[s] = strings.TrimSpace(r.stdout)
	}
	return st
}

// upBuildChanged checks, after up -d --build that followed a change in
// changed's context alone, that changed alone has a new image and a new
// container, as up's output says too (Recreated for it, Running for the
// others, as docker compose prints), and that its container runs the new
// source.
func upBuildChanged(tb testing.TB, name, changed, src string, before, after upBuildState, up result, compose func(args ...string) result) {
	tb.Helper()
	for _, s := range upBuildServices {
		ctr := fmt.Sprintf("Container %s-%s-1", name, s)
		if s == changed {
			if after.images[s] == before.images[s] {
				tb.Errorf("%s's context changed, but its image is still %s", s, before.images[s])
			}
			if after.containers[s] == before.containers[s] {
				tb.Errorf("%s's image changed, but its container is still %s", s, before.containers[s])
			}
			if !strings.Contains(up.stderr, ctr+"  Recreated\n") {
				tb.Errorf("up --build does not say %q:\n%s", ctr+"  Recreated", up.stderr)
			}
			continue
		}
		if after.images[s] != before.images[s] {
			tb.Errorf("only %s changed, but %s's image went from %s to %s", changed, s, before.images[s], after.images[s])
		}
		if after.containers[s] != before.containers[s] {
			tb.Errorf("only %s changed, but %s's container went from %s to %s", changed, s, before.containers[s], after.containers[s])
		}
		if strings.Contains(up.stderr, ctr+"  Recreate") || !strings.Contains(up.stderr, ctr+"  Running\n") {
			tb.Errorf("up --build should say %q and not recreate it:\n%s", ctr+"  Running", up.stderr)
		}
	}
	r := compose("exec", "-T", changed, "cat", "/app/built")
	if want := "built for " + changed + "\n" + src; r.stdout != want {
		tb.Errorf("%s's container has /app/built %q, want %q (%s)", changed, r.stdout, want, r.stderr)
	}
}

// TestUpBuildOneChanged: in a project of three services, each built from
// its own context, a change in one service's context makes up -d --build
// give that service alone a new image and a new container: the others,
// rebuilt from what did not change, keep their image IDs and their
// containers, as docker compose does.
func TestUpBuildOneChanged(t *testing.T) {
	const name = "upbone"
	dir, compose := upBuildProject(t, name)
	if r := compose("up", "-d", "--build"); r.code != 0 {
		t.Fatalf("up -d --build: exit %d\n%s", r.code, r.stderr)
	}
	for i, changed := range []string{"web", "api"} {
		before := upBuildLook(t, name, compose)
		src := fmt.Sprintf("source of %s #%d\n", changed, i+1)
		os.WriteFile(filepath.Join(dir, changed, "src.txt"), []byte(src), 0o644)
		up := compose("up", "-d", "--build")
		if up.code != 0 {
			t.Fatalf("up -d --build after %s changed: exit %d\n%s", changed, up.code, up.stderr)
		}
		// the changed service re-ran its steps from the COPY of src.txt on,
		// and no earlier; the others re-ran none
		cached := map[string]bool{}
		for _, s := range upBuildServices {
			for _, step := range []string{"2/5] COPY conf.txt", "3/5] RUN echo", "4/5] COPY src.txt", "5/5] RUN cat"} {
				cached["["+s+" "+step] = s != changed || step < "4"
			}
		}
		fixture.WantCached(t, "after "+changed+" changed", up.stderr, cached)
		upBuildChanged(t, name, changed, src, before, upBuildLook(t, name, compose), up, compose)
	}
}

// BenchmarkUpBuildOneChanged is the up --build figure: a project
// of three services, each built from its own context (two COPY and two
// RUN steps FROM the local busybox image), up once; then each iteration
// changes one file in one service's context (each service in turn) and
// times `berth up -d --build`: all three built, that one's last two steps
// re-run, that one container recreated. Each iteration checks, untimed,
// that only that service got a new image and a new container.
//
//	go test -tags seccomp -run '^$' -bench UpBuildOneChanged -benchtime 5x ./integration
func BenchmarkUpBuildOneChanged(b *testing.B) {
	const name = "upbench"
	dir, compose := upBuildProject(b, name)
	if r := compose("up", "-d", "--build"); r.code != 0 {
		b.Fatalf("up -d --build: exit %d\n%s", r.code, r.stderr)
	}
	var took time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		changed := upBuildServices[i%len(upBuildServices)]
		i++
		before := upBuildLook(b, name, compose)
		src := fmt.Sprintf("source of %s #%d\n", changed, i)
		os.WriteFile(filepath.Join(dir, changed, "src.txt"), []byte(src), 0o644)
		b.StartTimer()
		start := time.Now()
		up := compose("up", "-d", "--build")
		took += time.Since(start)
		b.StopTimer()
		if up.code != 0 {
			b.Fatalf("up -d --build after %s changed: exit %d\n%s", changed, up.code, up.stderr)
		}
		upBuildChanged(b, name, changed, src, before, upBuildLook(b, name, compose), up, compose)
		b.StartTimer()
	}
	b.ReportMetric(took.Seconds()/float64(b.N), "s-upbuild")
}
