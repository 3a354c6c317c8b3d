package project

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader as a compose.yaml. Whatever the
// input, Load must not panic, and an error must carry one of berth's classes
// and fit on one line. The seeds are valid and broken files; the corpus the
// fuzzer found is kept under testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"services:\n  web:\n    image: nginx\n",
		"services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n",
		"services:\n  a:\n    image: x\n   b: 1\n",
		"services: {a: {image: '${X:?needed}'}}\n",
		"include: [other.yaml]\n",
		"services:\n  a:\n    extends: {service: a}\n",
		"services: {a: {image: x, ports: ['80:80', {target: 1, published: '2'}]}}\n",
		"name: Bad Name\nservices: {a: {image: x}}\n",
		"services: {a: {image: x, volumes: [':::']}}\n",
		"x-a: &a {image: x}\nservices: {a: *a, b: {<<: *a}}\n",
		"services: !reset {}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "compose.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(context.Background(), Options{Files: []string{path}, ProjectDir: dir, Name: "fuzz"})
		if err == nil {
			return
		}
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCycle) {
			t.Errorf("error has no class: %v", err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error spans lines: %q", err)
		}
	})
}
