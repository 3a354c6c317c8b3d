package project

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidatedMemo: a load remembers that its inputs passed the compose
// schema, and whatever changes one of them (the file, the environment it
// is interpolated with) is checked again; files that pull in others, or
// that carry the obsolete version key, are checked every time.
func TestValidatedMemo(t *testing.T) {
	cleanEnv(t)
	cache := filepath.Join(t.TempDir(), "validated")
	dir := files(t, map[string]string{"compose.yaml": "services:\n  a: {image: x, stop_grace_period: \"${GRACE}\"}\n"})
	t.Chdir(dir)
	t.Setenv("GRACE", "3s")
	o := Options{ValidatedCache: cache}
	memos := func() int {
		entries, _ := os.ReadDir(cache)
		return len(entries)
	}
	for range 2 {
		if _, err := Load(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	if memos() != 1 {
		t.Fatalf("%d memos after two loads of one set of files, want 1", memos())
	}
	if po, err := o.compose(); err != nil {
		t.Fatal(err)
	} else if m, ok := memo(cache, o, po); !ok || !m.passed() {
		t.Error("the inputs that passed are not remembered: the next load checks them again")
	}
	// the same bytes, another environment: checked again
	t.Setenv("GRACE", "soon")
	if _, err := Load(context.Background(), o); err == nil || !strings.Contains(err.Error(), "stop_grace_period") {
		t.Errorf("an interpolated value the schema refuses passed: %v", err)
	}
	t.Setenv("GRACE", "3s")
	if _, err := Load(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	// another file: checked again
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  a: {image: x, imagee: y}\n"), 0o644)
	if _, err := Load(context.Background(), o); err == nil || !strings.Contains(err.Error(), "imagee") {
		t.Errorf("an edited file with an unknown key passed: %v", err)
	}
	// never remembered
	for name, content := range map[string]string{
		"version": "version: '3.8'\nservices:\n  a: {image: x}\n",
		"extends": "services:\n  base: {image: x}\n  a: {extends: base}\n",
	} {
		other := files(t, map[string]string{"compose.yaml": content})
		if _, err := Load(context.Background(), Options{ValidatedCache: cache, Files: []string{filepath.Join(other, "compose.yaml")}}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if memos() != 1 {
		t.Errorf("%d memos: files with version or extends were remembered", memos())
	}
}
