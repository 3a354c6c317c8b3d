package tarfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/testimage"
)

// TestUnpackRefusesEscapes: a layer cannot write outside its snapshot,
// neither by name nor through a symlink it plants.
func TestUnpackRefusesEscapes(t *testing.T) {
	fixture.RequireRoot(t, "ownership and device nodes")
	outside := t.TempDir()
	tests := []struct {
		name    string
		entries []testimage.Entry
		refused bool
	}{
		{"dot-dot name", []testimage.Entry{{Name: "../evil", Body: "x"}}, true},
		{"absolute dot-dot", []testimage.Entry{{Name: "/../../evil", Body: "x"}}, true},
		{"hard link out", []testimage.Entry{{Name: "evil", Type: tar.TypeLink, Link: "../../etc/passwd"}}, true},
		{"through an absolute symlink", []testimage.Entry{{Name: "link", Type: tar.TypeSymlink, Link: outside}, {Name: "link/evil", Body: "x"}}, false},
		{"through a relative symlink", []testimage.Entry{{Name: "up", Type: tar.TypeSymlink, Link: "../../../../.."}, {Name: "up/" + strings.TrimPrefix(outside, "/") + "/evil", Body: "x"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			err := Extract(context.Background(), bytes.NewReader(testimage.Tar(t, tc.entries...)), dir, Options{Overlay: true})
			if tc.refused && !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
			if !tc.refused && err != nil {
				t.Errorf("err = %v; a symlink inside the layer is fine as long as writes stay in", err)
			}
			if _, err := os.Stat(filepath.Join(outside, "evil")); err == nil {
				t.Fatal("the layer wrote outside its snapshot")
			}
		})
	}
}

// TestWriteExtractRoundTrip archives a tree and extracts it under another
// name: content, modes, links and times come back.
func TestWriteExtractRoundTrip(t *testing.T) {
	fixture.RequireRoot(t, "ownership")
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "dir", "sub"), 0o750)
	os.WriteFile(filepath.Join(src, "dir", "sub", "f"), []byte("data"), 0o640)
	os.Symlink("sub/f", filepath.Join(src, "dir", "link"))
	os.Link(filepath.Join(src, "dir", "sub", "f"), filepath.Join(src, "dir", "hard"))
	os.Chown(filepath.Join(src, "dir", "sub", "f"), 1234, 5678)
	var buf bytes.Buffer
	if err := Write(context.Background(), filepath.Join(src, "dir"), "dir", &buf); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := Extract(context.Background(), &buf, dst, Options{Rename: [2]string{"dir", "renamed"}}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dst, "renamed", "sub", "f"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("renamed/sub/f: %v %v", fi, err)
	}
	if l, _ := os.Readlink(filepath.Join(dst, "renamed", "link")); l != "sub/f" {
		t.Errorf("link -> %q", l)
	}
	a, _ := os.Stat(filepath.Join(dst, "renamed", "hard"))
	if !os.SameFile(a, fi) {
		t.Error("hard link not kept")
	}
	if fi, _ := os.Stat(filepath.Join(dst, "renamed")); fi.Mode().Perm() != 0o750 {
		t.Errorf("renamed dir mode %v", fi.Mode())
	}
}

// BenchmarkUnpack10k unpacks a layer of 10,000 small files.
func BenchmarkUnpack10k(b *testing.B) {
	fixture.RequireRoot(b, "ownership")
	entries := []testimage.Entry{}
	for d := range 100 {
		entries = append(entries, testimage.Entry{Name: fmt.Sprintf("d%03d/", d)})
		for f := range 100 {
			entries = append(entries, testimage.Entry{Name: fmt.Sprintf("d%03d/f%03d", d, f), Body: "small file content\n"})
		}
	}
	data := testimage.Tar(b, entries...)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		if err := Extract(context.Background(), bytes.NewReader(data), dir, Options{Overlay: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteModTimeOnly: with ModTimeOnly the same files make the same
// archive after they were read and linked (their atime and ctime moved),
// and the headers carry the modification time alone.
func TestWriteModTimeOnly(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "f"), []byte("content"), 0o644)
	write := func() []byte {
		var buf bytes.Buffer
		if err := WriteWith(context.Background(), src, "", &buf, WriteOptions{ModTimeOnly: true}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	first := write()
	// a new atime and ctime, the mtime kept: what reading a cached
	// layer's files and linking them into a snapshot do
	old, _ := os.Stat(filepath.Join(src, "sub", "f"))
	os.ReadFile(filepath.Join(src, "sub", "f"))
	if err := os.Link(filepath.Join(src, "sub", "f"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(filepath.Join(src, "sub", "f"), old.ModTime().Add(time.Hour), old.ModTime())
	if second := write(); !bytes.Equal(first, second) {
		t.Errorf("the archive changed with the files' access and change times")
	}
	tr := tar.NewReader(bytes.NewReader(first))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		if !hdr.AccessTime.IsZero() || !hdr.ChangeTime.IsZero() || hdr.ModTime.IsZero() {
			t.Errorf("%s: atime %v, ctime %v, mtime %v; want the mtime alone", hdr.Name, hdr.AccessTime, hdr.ChangeTime, hdr.ModTime)
		}
	}
}
