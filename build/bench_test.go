package build

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/fixture"
)

// BenchmarkBuildNoopInProcess: an unchanged rebuild of a 10-step
// Dockerfile on a 5,000-file context, in process (what berth's own part
// of BenchmarkBuildNoop in integration/ costs, less the process's start),
// for profiling:
//
//	go test -tags seccomp -run '^$' -bench NoopInProcess -cpuprofile cpu.out ./build
func BenchmarkBuildNoopInProcess(b *testing.B) {
	_, o := benchBuild(b)
	if _, err := Build(context.Background(), o); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Build(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
}

// benchBuild makes a state root with the base image and the benchmarks'
// context: 50 directories of 100 files of 1 KiB, and a 10-step
// Dockerfile (internal/fixture's, which integration's benchmarks build too).
func benchBuild(b *testing.B) (string, Options) {
	root := newRoot(b)
	ctxDir := fixture.BuildBenchContext(b)
	df := fixture.BuildBenchDockerfile("busybox:test")
	return root, Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte(df), Tags: []string{"bench"}}
}

// BenchmarkBuildColdInProcess: the same Dockerfile and context built
// with an empty step cache and digest cache each time (the base image
// stays), in process, for profiling.
func BenchmarkBuildColdInProcess(b *testing.B) {
	root, o := benchBuild(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		os.RemoveAll(filepath.Join(root, "buildcache"))
		b.StartTimer()
		if _, err := Build(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
}
