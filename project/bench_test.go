package project

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// BenchmarkLoad loads a generated project of 50 services, half of them
// depending on the one before: the cost every compose command pays first.
func BenchmarkLoad(b *testing.B) {
	var f strings.Builder
	f.WriteString("services:\n")
	for i := range 50 {
		fmt.Fprintf(&f, "  s%d:\n    image: busybox\n    init: true\n    command: [sleep, infinity]\n", i)
		if i%2 == 1 {
			fmt.Fprintf(&f, "    depends_on: [s%d]\n", i-1)
		}
	}
	dir := b.TempDir()
	path := dir + "/compose.yaml"
	if err := writeBenchFile(path, f.String()); err != nil {
		b.Fatal(err)
	}
	o := Options{Files: []string{path}, Name: "bench"}
	for b.Loop() {
		if _, err := Load(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWalk measures the scheduler alone: 50 services in a chain of
// pairs, with visits that do nothing.
func BenchmarkWalk(b *testing.B) {
	p := &types.Project{Services: types.Services{}}
	for i := range 50 {
		var s types.ServiceConfig
		s.Name = fmt.Sprintf("s%d", i)
		if i%2 == 1 {
			s.DependsOn = types.DependsOnConfig{fmt.Sprintf("s%d", i-1): {Condition: types.ServiceConditionStarted, Required: true}}
		}
		p.Services[s.Name] = s
	}
	g, err := NewGraph(p)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := g.Walk(context.Background(), WalkOptions{}, func(context.Context, string) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func writeBenchFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o644)
}
