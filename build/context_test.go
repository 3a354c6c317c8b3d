package build

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/fixture"
)

// TestContextDigests: the context's digests come from the digest cache
// while a file's stat is unchanged, and a file rewritten with the same
// size and its old mtime still gets its new digest (its ctime moved);
// a copy's digest covers what it names and nothing else.
func TestContextDigests(t *testing.T) {
	dir := fixture.Dir(t, map[string]string{"a/one": "1111", "a/two": "2222", "b/three": "3333"})
	stats := filepath.Join(t.TempDir(), "stats")
	first, err := walkContext(dir, nil, stats)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(stats)
	if n := strings.Count(string(data), "\n"); n != 3 {
		t.Errorf("the digest cache has %d lines, want one per file:\n%s", n, data)
	}
	again, _ := walkContext(dir, nil, stats)
	if again.all != first.all {
		t.Errorf("an unchanged context has another digest")
	}

	p := filepath.Join(dir, "a/one")
	fi, _ := os.Stat(p)
	os.WriteFile(p, []byte("9999"), 0o644)
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	changed, _ := walkContext(dir, nil, stats)
	if changed.all == first.all {
		t.Errorf("a rewritten file of the same size and mtime left the context's digest as it was")
	}
	if changed.digestOf("/a") == first.digestOf("/a") || changed.digestOf("/a/o*") == first.digestOf("/a/o*") {
		t.Errorf("the digest of a copy of /a (or /a/o*) did not change with /a/one")
	}
	if changed.digestOf("/b") != first.digestOf("/b") || changed.digestOf("/a/two") != first.digestOf("/a/two") {
		t.Errorf("the digest of a copy of /b or /a/two changed with /a/one")
	}

	// a symlink on the way may lead anywhere: the whole context
	os.Symlink("b", filepath.Join(dir, "link"))
	withLink, _ := walkContext(dir, nil, stats)
	if withLink.digestOf("/link/three") != withLink.all {
		t.Errorf("a copy through a symlink is not keyed by the whole context")
	}
}

// TestContextIgnore: .dockerignore's patterns and exceptions as
// BuildKit applies them: an ignored directory is left whole unless an
// exception names something in it, which brings back that and its
// directory.
func TestContextIgnore(t *testing.T) {
	dir := fixture.Dir(t, map[string]string{
		"keep.txt": "k", "x.log": "l", "sub/x.log": "l", "dir/a": "a", "dir/b": "b", "other/c": "c",
	})
	os.Chmod(filepath.Join(dir, "dir"), 0o700)
	c, err := walkContext(dir, []string{"*.log", "dir", "!dir/b", "other"}, filepath.Join(t.TempDir(), "stats"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range c.files {
		got = append(got, f.path)
	}
	if want := []string{"dir", "dir/b", "keep.txt", "sub", "sub/x.log"}; !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	slices.Sort(c.ignored)
	if want := []string{"dir/a", "other", "x.log"}; !slices.Equal(c.ignored, want) {
		t.Errorf("ignored %v, want %v", c.ignored, want)
	}
}
