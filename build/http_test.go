package build

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildAddURL: ADD of a URL fetches the file from the address given
// and stores it as BuildKit does: named after the URL's path (or
// __unnamed__, the frontend's name when the path has none), mode 0600 unless --chmod says otherwise, its time the
// Last-Modified header's (the epoch without one), never extracted; a
// wrong --checksum and an error status fail the step.
func TestBuildAddURL(t *testing.T) {
	root := newRoot(t)
	modified := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.URL.String())
		switch r.URL.Path {
		case "/files/data.txt":
			w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
			io.WriteString(w, "fetched\n")
		case "/bare/", "/":
			io.WriteString(w, "no name\n")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	df := "FROM busybox:test\n" +
		"ADD " + srv.URL + "/files/data.txt /d/\n" +
		"ADD --chmod=0755 " + srv.URL + "/files/data.txt?x=1 /e/run\n" +
		"ADD " + srv.URL + "/bare/ /f/\n" +
		"ADD " + srv.URL + " /g/\n"
	var out bytes.Buffer
	if _, err := Build(context.Background(), Options{Root: root, ContextDir: t.TempDir(), DockerfileInline: []byte(df), Tags: []string{"fetched"}, Progress: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	dir, _ := view(t, root, "fetched")
	for p, want := range map[string]struct {
		mode  os.FileMode
		mtime time.Time
	}{
		"d/data.txt":    {0o600, modified},
		"e/run":         {0o755, modified},
		"f/bare":        {0o600, time.Unix(0, 0)},
		"g/__unnamed__": {0o600, time.Unix(0, 0)},
	} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("/%s: %v", p, err)
			continue
		}
		if fi.Mode().Perm() != want.mode || !fi.ModTime().Equal(want.mtime) {
			t.Errorf("/%s: mode %v, time %v; want %v, %v", p, fi.Mode().Perm(), fi.ModTime().UTC(), want.mode, want.mtime)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "d/data.txt")); string(got) != "fetched\n" {
		t.Errorf("/d/data.txt: %q", got)
	}
	if want := []string{"/files/data.txt", "/files/data.txt?x=1", "/bare/", "/"}; strings.Join(requests, " ") != strings.Join(want, " ") {
		t.Errorf("requests %v, want %v", requests, want)
	}
	for df, want := range map[string]string{
		"FROM busybox:test\nADD " + srv.URL + "/missing /m\n": "invalid response status 404",
		"FROM busybox:test\nADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 " + srv.URL + "/files/data.txt /c\n": "digest mismatch for " + srv.URL + "/files/data.txt",
	} {
		_, err := Build(context.Background(), Options{Root: root, ContextDir: t.TempDir(), DockerfileInline: []byte(df), Tags: []string{"bad"}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", df, err, want)
		}
	}
}
