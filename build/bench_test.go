package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
// Dockerfile (integration/buildbench_test.go's).
func benchBuild(b *testing.B) (string, Options) {
	root := newRoot(b)
	ctxDir := b.TempDir()
	body := strings.Repeat("berth build benchmark context\n", 35)[:1024]
	for d := 0; d < 50; d++ {
		dir := filepath.Join(ctxDir, fmt.Sprintf("d%02d", d))
		os.Mkdir(dir, 0o755)
		for f := 0; f < 100; f++ {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", f)), []byte(fmt.Sprintf("%d/%d\n%s", d, f, body)), 0o644)
		}
	}
	df := `FROM busybox:test
RUN echo one > /one
COPY . /src
RUN ls -R /src > /listing
WORKDIR /work
RUN echo three > three
ENV STAGE=bench
COPY d00 /d00
RUN cat /d00/f000 > /first
ARG LEVEL=1
RUN echo "$LEVEL" > /level
COPY d01 /d01
RUN echo last > /last
`
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
