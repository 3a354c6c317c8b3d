package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/registrytest"
	"github.com/berth-dev/berth/internal/testimage"
)

// The build benchmarks: a 10-step Dockerfile on a 5,000-file
// context, built by berth (`berth image build`) and by BuildKit v0.34.2
// (buildkitd and buildctl from scripts/buildkit-ref.sh) on the same
// machine, from the same base image in a registry on 127.0.0.1. A no-op
// rebuild changes nothing; a cold build starts with nothing: no step
// cache, no base image (both pull it), no memory of the context.
//
//	go test -tags seccomp -run '^$' -bench 'Build' -benchtime 5x ./integration

// benchSetup starts a registry holding the base image and makes the
// context: 50 directories of 100 files of 1 KiB, and the Dockerfile.
func benchSetup(b *testing.B) (registry, ctx string) {
	b.Helper()
	registry = registrytest.Start(b, nil)
	base := registry + "/bench/busybox:1"
	r, err := name.ParseReference(base, name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Write(r, testimage.Busybox(b)); err != nil {
		b.Fatal(err)
	}
	ctx = fixture.BuildBenchContext(b)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(fixture.BuildBenchDockerfile(base)), 0o644)
	return registry, ctx
}

func berthBuild(b *testing.B, root, ctx string, args ...string) {
	b.Helper()
	r := berth(b, ctx, "", append([]string{"--root", root, "image", "build", "-q", "-t", "bench:1"}, append(args, ctx)...)...)
	if r.code != 0 {
		b.Fatalf("berth image build: exit %d\n%s", r.code, r.stderr)
	}
}

// BenchmarkBuildNoop: berth's rebuild of an unchanged Dockerfile and
// context, every step from the cache.
func BenchmarkBuildNoop(b *testing.B) {
	requireRoot(b)
	_, ctx := benchSetup(b)
	root := b.TempDir()
	teardownOnCleanup(b, root)
	berthBuild(b, root, ctx)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		berthBuild(b, root, ctx)
	}
}

// BenchmarkBuildCold: berth's build from nothing: each one on a new
// state root, which pulls the base image, reads every context file and
// runs every step.
func BenchmarkBuildCold(b *testing.B) {
	requireRoot(b)
	_, ctx := benchSetup(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := filepath.Join(b.TempDir(), "root")
		teardownOnCleanup(b, root)
		b.StartTimer()
		berthBuild(b, root, ctx)
	}
}

// buildkit starts BuildKit's reference daemon for the registry and
// returns a function running buildctl.
func buildkit(b *testing.B, registry string) func(args ...string) {
	b.Helper()
	script, err := filepath.Abs("../scripts/buildkit-ref.sh")
	if err != nil {
		b.Fatal(err)
	}
	cache := "/var/cache/berth-test/buildkit-v0.34.2"
	if v := os.Getenv("BERTH_BUILDKIT_CACHE"); v != "" {
		cache = v
	}
	for _, bin := range []string{"buildkitd", "buildctl"} {
		if _, err := os.Stat(filepath.Join(cache, bin)); err != nil {
			b.Skipf("BuildKit's reference is not built (%v): run scripts/buildkit-ref.sh build", err)
		}
	}
	if _, err := exec.LookPath("runc"); err != nil {
		b.Skip("runc is not installed: BuildKit's reference runs on it")
	}
	dir := filepath.Join(b.TempDir(), "buildkit")
	out, err := exec.Command(script, "start", dir, registry).Output()
	if err != nil {
		b.Fatalf("starting buildkitd: %v", err)
	}
	b.Cleanup(func() { exec.Command(script, "stop", dir).Run() })
	addr := strings.TrimSpace(string(out))
	return func(args ...string) {
		b.Helper()
		cmd := exec.Command(filepath.Join(cache, "buildctl"), append([]string{"--addr", addr}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("buildctl %v: %v\n%s", args, err, out)
		}
	}
}

func buildctlBuild(ctx string) []string {
	return []string{"build", "--progress", "quiet", "--frontend", "dockerfile.v0", "--local", "context=" + ctx, "--local", "dockerfile=" + ctx,
		"--output", "type=image,name=docker.io/library/bench:1,push=false"}
}

// BenchmarkBuildKitNoop: BuildKit's rebuild of the unchanged Dockerfile
// and context.
func BenchmarkBuildKitNoop(b *testing.B) {
	requireRoot(b)
	registry, ctx := benchSetup(b)
	buildctl := buildkit(b, registry)
	buildctl(buildctlBuild(ctx)...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buildctl(buildctlBuild(ctx)...)
	}
}

// BenchmarkBuildKitCold: BuildKit's build from nothing: its cache pruned
// whole before each (the base image's layers and the context's copy
// included).
func BenchmarkBuildKitCold(b *testing.B) {
	requireRoot(b)
	registry, ctx := benchSetup(b)
	buildctl := buildkit(b, registry)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		buildctl("prune", "--all")
		b.StartTimer()
		buildctl(buildctlBuild(ctx)...)
	}
}

// BenchmarkBuildVsBuildKitNoop and BenchmarkBuildVsBuildKitCold run
// berth's build and BuildKit's in turn, each iteration one of each, so
// that both see the same load on a shared machine; they report each
// one's mean time and berth's as a fraction of BuildKit's (berth/bk).
func BenchmarkBuildVsBuildKitNoop(b *testing.B) {
	requireRoot(b)
	registry, ctx := benchSetup(b)
	buildctl := buildkit(b, registry)
	root := b.TempDir()
	teardownOnCleanup(b, root)
	berthBuild(b, root, ctx)
	buildctl(buildctlBuild(ctx)...)
	compare(b, func() { berthBuild(b, root, ctx) }, func() { buildctl(buildctlBuild(ctx)...) }, nil)
}

func BenchmarkBuildVsBuildKitCold(b *testing.B) {
	requireRoot(b)
	registry, ctx := benchSetup(b)
	buildctl := buildkit(b, registry)
	var root string
	compare(b, func() { berthBuild(b, root, ctx) }, func() { buildctl(buildctlBuild(ctx)...) }, func() {
		root = filepath.Join(b.TempDir(), "root")
		teardownOnCleanup(b, root)
		buildctl("prune", "--all")
	})
}

// compare times berth and buildkit, b.N times each, alternating, with
// reset (untimed) before each pair.
func compare(b *testing.B, berth, buildkit func(), reset func()) {
	var tb, tk time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if reset != nil {
			reset()
		}
		first, second := berth, buildkit
		t1, t2 := &tb, &tk
		if i%2 == 1 {
			first, second, t1, t2 = buildkit, berth, &tk, &tb
		}
		start := time.Now()
		first()
		*t1 += time.Since(start)
		start = time.Now()
		second()
		*t2 += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(tb.Milliseconds())/float64(b.N), "berth-ms/op")
	b.ReportMetric(float64(tk.Milliseconds())/float64(b.N), "buildkit-ms/op")
	b.ReportMetric(float64(tb)/float64(tk), "berth/bk")
}
