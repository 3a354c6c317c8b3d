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
	o := Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte(df), Tags: []string{"bench"}}
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
