package build

import (
	"archive/tar"
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/testimage"
)

// The BuildKit semantics the comparison suite (compat_test.go) found
// missing, each checked here too, where BuildKit is not built.

// TestBuildCopyLink: COPY --link is a copy made on nothing, its layer
// stacked on the image's: a directory on the way to the destination is
// the layer's own (0755, root's), not the one below.
func TestBuildCopyLink(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{"f": "linked\n"})
	df := "FROM busybox:test\nRUN mkdir -m 0700 /d && chown 65534:65534 /d\nCOPY --link f /d/\n"
	var out bytes.Buffer
	if _, err := Build(context.Background(), Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte(df), Tags: []string{"linked"}, Progress: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	dir, img := view(t, root, "linked")
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(dir, "d"), &st); err != nil || st.Mode&0o7777 != 0o755 || st.Uid != 0 {
		t.Errorf("/d: mode %o owner %d (%v), want the linked layer's 0755 root", st.Mode&0o7777, st.Uid, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "d/f")); string(got) != "linked\n" {
		t.Errorf("/d/f: %q (%v)", got, err)
	}
	if names := layerNames(t, img, 2); !slices.Equal(names, []string{"d", "d/f"}) {
		t.Errorf("the linked layer holds %v, want d/ and d/f only", names)
	}
}

// TestBuildContextOwners: files copied from the context are root's
// whoever owns them there, unless --chown says otherwise.
func TestBuildContextOwners(t *testing.T) {
	root := newRoot(t)
	ctxDir := fixture.Dir(t, map[string]string{"f": "x"})
	if err := os.Lchown(filepath.Join(ctxDir, "f"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
	df := "FROM busybox:test\nCOPY f /plain\nCOPY --chown=65534 f /chowned\n"
	var out bytes.Buffer
	if _, err := Build(context.Background(), Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte(df), Tags: []string{"owners"}, Progress: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	dir, _ := view(t, root, "owners")
	for p, want := range map[string]uint32{"plain": 0, "chowned": 65534} {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(dir, p), &st); err != nil || st.Uid != want || st.Gid != want {
			t.Errorf("/%s: owner %d:%d (%v), want %d:%d", p, st.Uid, st.Gid, err, want, want)
		}
	}
}

// TestBuildRunUser: RUN's user as BuildKit's executor makes it: its
// primary group among its groups, the group file the overlay shows (none
// once removed), a working directory that is gone made again as the
// user's.
func TestBuildRunUser(t *testing.T) {
	root := newRoot(t)
	df := "FROM busybox:test\nUSER nobody\nRUN id -G > /tmp/groups\n" +
		"USER root\nRUN echo 'extra:x:7:nobody' >> /etc/group\nUSER nobody\nRUN id -G > /tmp/groups-extra\n" +
		"USER root\nRUN busybox rm /etc/group\nUSER nobody\nRUN id -G > /tmp/groups-none\n" +
		"USER root\nWORKDIR /w/d\nRUN busybox rm -r /w\nUSER nobody\nRUN echo > /tmp/ran\n"
	var out bytes.Buffer
	if _, err := Build(context.Background(), Options{Root: root, ContextDir: t.TempDir(), DockerfileInline: []byte(df), Tags: []string{"users"}, Progress: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	dir, _ := view(t, root, "users")
	for p, want := range map[string]string{"tmp/groups": "65534\n", "tmp/groups-extra": "65534 7\n", "tmp/groups-none": "65534\n"} {
		if got, err := os.ReadFile(filepath.Join(dir, p)); string(got) != want {
			t.Errorf("/%s: %q (%v), want %q", p, got, err, want)
		}
	}
	for _, p := range []string{"w", "w/d"} {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(dir, p), &st); err != nil || st.Uid != 65534 || st.Gid != 65534 || st.Mode&0o7777 != 0o755 {
			t.Errorf("/%s: mode %o owner %d:%d (%v), want 0755 nobody's", p, st.Mode&0o7777, st.Uid, st.Gid, err)
		}
	}
}

// TestBuildXattrs: a layer keeps a file capability, and no other
// extended attribute, as BuildKit's do; a file from the context loses
// its capability on the way, one copied from an image keeps it.
func TestBuildXattrs(t *testing.T) {
	root := newRoot(t)
	capped := testimage.Image(t, v1.Config{}, testimage.Layer(t,
		testimage.Entry{Name: "capped", Body: "c", Mode: 0o755, Xattrs: map[string]string{"security.capability": capNetBindService}}))
	s, snaps, err := image.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tarball.Write(name.MustParseReference("capped:test"), capped, &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := image.Load(context.Background(), s, snaps, &buf); err != nil {
		t.Fatal(err)
	}
	ctxDir := fixture.Dir(t, map[string]string{"capped": "x", "tagged": "y"})
	for name, x := range map[string][2]string{"capped": {"security.capability", capNetBindService}, "tagged": {"user.berth.test", "v"}} {
		if err := unix.Lsetxattr(filepath.Join(ctxDir, name), x[0], []byte(x[1]), 0); err != nil {
			t.Skipf("the test's directory takes no %s xattr: %v", x[0], err)
		}
	}
	df := "FROM busybox:test\nCOPY capped tagged /ctx/\nCOPY --from=capped:test /capped /from-image\n"
	var out bytes.Buffer
	if _, err := Build(context.Background(), Options{Root: root, ContextDir: ctxDir, DockerfileInline: []byte(df), Tags: []string{"xattrs"}, Progress: &out}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	_, img := view(t, root, "xattrs")
	got := map[string][]string{}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers[1:] {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			for k := range h.PAXRecords {
				if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
					got[h.Name] = append(got[h.Name], x)
				}
			}
		}
		rc.Close()
	}
	if want := map[string][]string{"from-image": {"security.capability"}}; !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("the layers' xattrs are %v, want %v", got, want)
	}
}
