package volumes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/fixture"
)

func TestParseVolumeFlag(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
	}{
		{"/data", Spec{Type: "volume", Target: "/data"}},
		{"db:/var/lib/db", Spec{Type: "volume", Source: "db", Target: "/var/lib/db"}},
		{"db:/var/lib/db:ro,nocopy", Spec{Type: "volume", Source: "db", Target: "/var/lib/db", ReadOnly: true, NoCopy: true}},
		{"/srv:/srv:rw,rslave", Spec{Type: "bind", Source: "/srv", Target: "/srv", CreateHostPath: true, Propagation: "rslave"}},
		{"./conf:/etc/app", Spec{Type: "bind", Source: "./conf", Target: "/etc/app", CreateHostPath: true}},
		{"/cache:ro", Spec{Type: "volume", Target: "/cache", ReadOnly: true}},
	}
	for _, tc := range tests {
		got, err := ParseVolumeFlag(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseVolumeFlag(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"db:relative", "a:b:c:d", "db:/x:bogus", "/"} {
		if _, err := ParseVolumeFlag(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseVolumeFlag(%q) accepted", bad)
		}
	}
}

func TestParseMountFlag(t *testing.T) {
	got, err := ParseMountFlag("type=volume,source=db,target=/data,readonly,volume-nocopy,volume-subpath=sub")
	want := Spec{Type: "volume", Source: "db", Target: "/data", ReadOnly: true, NoCopy: true, Subpath: "sub"}
	if err != nil || got != want {
		t.Errorf("got %+v, %v", got, err)
	}
	got, err = ParseMountFlag("type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1770")
	if err != nil || got.TmpfsSize != 64<<20 || got.TmpfsMode != 0o1770 {
		t.Errorf("tmpfs: %+v, %v", got, err)
	}
	for _, bad := range []string{"type=nfs,target=/x", "type=bind,target=/x", "source=v,target=rel", "type=tmpfs,target=/x,tmpfs-size=lots", "colour=red,target=/x"} {
		if _, err := ParseMountFlag(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseMountFlag(%q) accepted", bad)
		}
	}
}

// TestCopyUpAtomic: a copy that fails leaves the volume empty, so it is
// tried again; one that succeeds fills it; a volume holding data is never
// copied into.
func TestCopyUpAtomic(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Create(context.Background(), "vol", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("killed mid-copy")
	half := func(target, dst string) error {
		os.WriteFile(filepath.Join(dst, "half"), []byte("x"), 0o644)
		return boom
	}
	if err := s.copyUp(v, "/etc", half); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(v.Mountpoint); len(entries) != 0 {
		t.Fatalf("a failed copy left %d entries in the volume", len(entries))
	}
	full := func(target, dst string) error { return os.WriteFile(filepath.Join(dst, "whole"), []byte("x"), 0o644) }
	if err := s.copyUp(v, "/etc", full); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(v.Mountpoint, "whole")); err != nil {
		t.Fatalf("the copy did not land: %v", err)
	}
	again := func(target, dst string) error { t.Error("copied into a volume holding data"); return nil }
	s.copyUp(v, "/etc", again)
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(v.Mountpoint), "copyup-*")); len(leftovers) != 0 {
		t.Errorf("temporary copies left: %v", leftovers)
	}
}

// TestCopyUpEmptyDirectory: a new volume over an image directory that is
// empty takes that directory's owner, mode and xattrs, as in Docker (a
// redis running as user redis writes to a fresh /data); over no directory
// at all it stays as it was made.
func TestCopyUpEmptyDirectory(t *testing.T) {
	fixture.RequireRoot(t, "ownership")
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	image := t.TempDir()
	src := filepath.Join(image, "data")
	os.Mkdir(src, 0o755)
	os.Chown(src, 999, 998)
	unix.Chmod(src, 0o2750)
	unix.Lsetxattr(src, "user.origin", []byte("image"), 0)
	v, err := s.Create(ctx, "vol", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.copyUp(v, "/data", func(target, dst string) error { return CopyTree(ctx, filepath.Join(image, target), dst) }); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(v.Mountpoint, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 999 || st.Gid != 998 || st.Mode&0o7777 != 0o2750 {
		t.Errorf("the volume's root: %d:%d %o; want 999:998 2750, the image's empty directory's", st.Uid, st.Gid, st.Mode&0o7777)
	}
	val := make([]byte, 16)
	if n, err := unix.Lgetxattr(v.Mountpoint, "user.origin", val); err == nil && string(val[:n]) != "image" {
		t.Errorf("xattr: %q", val[:n])
	}
	w, err := s.Create(ctx, "nothing", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(w.Mountpoint)
	if err := s.copyUp(w, "/missing", func(target, dst string) error { return CopyTree(ctx, filepath.Join(image, target), dst) }); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(w.Mountpoint); after.Mode() != before.Mode() || !os.SameFile(before, after) {
		t.Errorf("a volume over no directory changed: %v -> %v", before.Mode(), after.Mode())
	}
}
