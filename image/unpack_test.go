package image

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/fixture"
	"github.com/berth-dev/berth/internal/testimage"
)

func requireRoot(t *testing.T) {
	fixture.RequireRoot(t, "device nodes, ownership, trusted xattrs and overlay mounts")
}

// putImage writes img's blobs into s and returns the stored image.
func putImage(t *testing.T, s *Store, img v1.Image) v1.Image {
	t.Helper()
	if _, err := fetchImage(context.Background(), s, img, Quiet); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	stored, err := s.Image(d)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

// TestUnpackOverlay unpacks a three-layer image with a whiteout and an opaque
// directory, checks each snapshot, then mounts the snapshots as the runtime
// will (an overlay of Lowers) and checks what a container would see.
func TestUnpackOverlay(t *testing.T) {
	requireRoot(t)
	s, snaps := newStore(t)
	T := testimage.Time
	base := testimage.Layer(t,
		testimage.Entry{Name: "etc/"},
		testimage.Entry{Name: "etc/keep", Body: "kept"},
		testimage.Entry{Name: "etc/gone", Body: "deleted above"},
		testimage.Entry{Name: "data/"},
		testimage.Entry{Name: "data/old", Body: "hidden by opaque"},
		testimage.Entry{Name: "bin/"},
		testimage.Entry{Name: "bin/tool", Body: "#!/bin/sh\n", Mode: 0o4755, UID: 0, GID: 0},
		testimage.Entry{Name: "bin/alias", Type: tar.TypeSymlink, Link: "tool"},
		testimage.Entry{Name: "bin/hard", Type: tar.TypeLink, Link: "bin/tool"},
		testimage.Entry{Name: "home/"},
		testimage.Entry{Name: "home/user", Body: "owned", UID: 1000, GID: 1001, Mode: 0o600, ModTime: T},
		testimage.Entry{Name: "dev/"},
		testimage.Entry{Name: "dev/null", Type: tar.TypeChar, Major: 1, Minor: 3, Mode: 0o666},
		testimage.Entry{Name: "tagged", Body: "x", Xattrs: map[string]string{"user.note": "hello"}},
	)
	middle := testimage.Layer(t,
		testimage.Entry{Name: "etc/.wh.gone"},
		testimage.Entry{Name: "data/"},
		testimage.Entry{Name: "data/.wh..wh..opq"},
		testimage.Entry{Name: "data/new", Body: "only this"},
	)
	top := testimage.Layer(t, testimage.Entry{Name: "etc/keep", Body: "replaced"})
	img := putImage(t, s, testimage.Image(t, v1.Config{}, base, middle, top))
	if err := snaps.Prepare(context.Background(), s, img, nil); err != nil {
		t.Fatal(err)
	}
	lowers, err := snaps.Lowers(img)
	if err != nil || len(lowers) != 3 {
		t.Fatalf("Lowers = %v, %v", lowers, err)
	}
	baseDir, midDir := lowers[2], lowers[1]

	// The base snapshot, file by file.
	if fi, err := os.Stat(filepath.Join(baseDir, "bin/tool")); err != nil || fi.Mode()&os.ModeSetuid == 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/tool mode = %v, %v; want setuid 0755", fi.Mode(), err)
	}
	if l, err := os.Readlink(filepath.Join(baseDir, "bin/alias")); err != nil || l != "tool" {
		t.Errorf("bin/alias -> %q, %v", l, err)
	}
	a, _ := os.Stat(filepath.Join(baseDir, "bin/tool"))
	b, _ := os.Stat(filepath.Join(baseDir, "bin/hard"))
	if !os.SameFile(a, b) {
		t.Error("bin/hard is not a hard link to bin/tool")
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(baseDir, "home/user"), &st); err != nil || st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o777 != 0o600 {
		t.Errorf("home/user owner %d:%d mode %o, %v", st.Uid, st.Gid, st.Mode&0o777, err)
	}
	if st.Mtim.Sec != T.Unix() {
		t.Errorf("home/user mtime %d, want %d", st.Mtim.Sec, T.Unix())
	}
	if err := unix.Lstat(filepath.Join(baseDir, "dev/null"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		t.Errorf("dev/null is not the 1:3 character device: %v", err)
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(baseDir, "tagged"), "user.note", buf); err != nil || string(buf[:n]) != "hello" {
		t.Errorf("xattr user.note = %q, %v", buf[:n], err)
	}
	// The middle snapshot in overlayfs form.
	if err := unix.Lstat(filepath.Join(midDir, "etc/gone"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/gone is not a 0/0 whiteout: %v", err)
	}
	if n, err := unix.Lgetxattr(filepath.Join(midDir, "data"), opaqueXattr, buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("data is not marked opaque: %q, %v", buf[:n], err)
	}

	// What a container sees.
	mnt := t.TempDir()
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(lowers, ":")); err != nil {
		t.Fatalf("mounting the snapshots: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	for path, want := range map[string]string{"etc/keep": "replaced", "data/new": "only this", "home/user": "owned"} {
		if got, err := os.ReadFile(filepath.Join(mnt, path)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	for _, path := range []string{"etc/gone", "data/old"} {
		if _, err := os.Lstat(filepath.Join(mnt, path)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is visible through the overlay: %v", path, err)
		}
	}
}

func TestUnpackChecksDiffID(t *testing.T) {
	requireRoot(t)
	s, snaps := newStore(t)
	layer := testimage.Layer(t, testimage.Entry{Name: "f", Body: "content"})
	img := testimage.Image(t, v1.Config{}, layer)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[0] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	bad := mutateConfig(t, img, cf)
	stored := putImage(t, s, bad)
	if err := snaps.Prepare(context.Background(), s, stored, nil); !errors.Is(err, ErrDigest) {
		t.Errorf("err = %v, want ErrDigest for a layer that does not match its diff ID", err)
	}
	entries, _ := os.ReadDir(snaps.dir)
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("a failed unpack left %s", e.Name())
		}
	}
}
