package jsonlog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entries reads every entry of the log's files, oldest first.
func entries(t *testing.T, path string) []Entry {
	t.Helper()
	var all []Entry
	for _, f := range Files(path) {
		if _, err := Read(f, 0, func(e Entry) error { all = append(all, e); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

func TestDrain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	w, err := Open(path, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", MaxLine+10) + "\n"
	w.Drain(strings.NewReader("one\ntwo\n"), "stdout")
	w.Drain(strings.NewReader(long+"no newline at the end"), "stderr")
	w.Close()
	got := entries(t, path)
	want := []Entry{
		{Log: "one\n", Stream: "stdout"}, {Log: "two\n", Stream: "stdout"},
		// a long line in pieces of MaxLine, the last one ending it
		{Log: long[:MaxLine], Stream: "stderr"}, {Log: long[MaxLine:], Stream: "stderr"},
		{Log: "no newline at the end", Stream: "stderr"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Log != want[i].Log || got[i].Stream != want[i].Stream || got[i].Time.IsZero() {
			t.Errorf("entry %d: %q %s %v, want %q %s", i, got[i].Log, got[i].Stream, got[i].Time, want[i].Log, want[i].Stream)
		}
	}
}

// TestRotate: with a size limit the log rotates to .1, .2, dropping the
// oldest, and no file passes the limit; reading the files in order gives
// the newest lines in order.
func TestRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	const maxSize = 400
	w, err := Open(path, maxSize, 3)
	if err != nil {
		t.Fatal(err)
	}
	var in strings.Builder
	for i := range 40 {
		in.WriteString(strings.Repeat("ab", i%5) + "\n")
	}
	w.Drain(strings.NewReader(in.String()), "stdout")
	w.Close()
	files := Files(path)
	if len(files) != 3 || files[0] != path+".2" || files[1] != path+".1" || files[2] != path {
		t.Fatalf("files: %v", files)
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("a fourth file kept with max-file 3")
	}
	for _, f := range files {
		if fi, _ := os.Stat(f); fi.Size() > maxSize {
			t.Errorf("%s: %d bytes, over %d", f, fi.Size(), maxSize)
		}
	}
	got := entries(t, path)
	if len(got) == 0 || len(got) >= 40 {
		t.Fatalf("%d entries kept of 40", len(got))
	}
	// the kept ones are the last lines written, in order
	for i, e := range got {
		n := 40 - len(got) + i
		if want := strings.Repeat("ab", n%5) + "\n"; e.Log != want {
			t.Fatalf("entry %d is %q, want line %d %q", i, e.Log, n, want)
		}
	}
}

// TestReadResumes: Read stops before a partial last line and resumes at
// the offset it returned.
func TestReadResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	os.WriteFile(path, []byte(`{"log":"a\n","stream":"stdout","time":"2026-01-02T03:04:05Z"}`+"\nnot json\n"+`{"log":"b`), 0o640)
	var got []string
	off, err := Read(path, 0, func(e Entry) error { got = append(got, e.Log); return nil })
	if err != nil || len(got) != 1 || got[0] != "a\n" {
		t.Fatalf("first read: %q, %v", got, err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`\n","stream":"stderr","time":"2026-01-02T03:04:06Z"}` + "\n")
	f.Close()
	got = nil
	if _, err := Read(path, off, func(e Entry) error { got = append(got, e.Stream+" "+e.Log); return nil }); err != nil || len(got) != 1 || got[0] != "stderr b\n" {
		t.Fatalf("resumed read: %q, %v", got, err)
	}
}

// FuzzRead: any file content reads without a panic, and the offset
// returned never passes the file's end.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"log":"a\n","stream":"stdout","time":"2026-01-02T03:04:05Z"}` + "\n"))
	f.Add([]byte("\n\n{\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "log")
		os.WriteFile(path, data, 0o640)
		off, err := Read(path, 0, func(Entry) error { return nil })
		if err != nil || off > int64(len(data)) {
			t.Fatalf("offset %d of %d, %v", off, len(data), err)
		}
	})
}
