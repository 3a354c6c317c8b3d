package image

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// TestAdopt: a layer's files in overlayfs form become a snapshot by
// links: files, symlinks and whiteouts the same inodes, directories new
// with their modes, owners and the opaque mark.
func TestAdopt(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("whiteouts and trusted xattrs need root")
	}
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "opq/sub"), 0o755)
	os.WriteFile(filepath.Join(src, "opq/sub/file"), []byte("x"), 0o640)
	unix.Chmod(filepath.Join(src, "opq"), 0o1750)
	os.Lchown(filepath.Join(src, "opq"), 12, 34)
	if err := unix.Lsetxattr(filepath.Join(src, "opq"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	os.Symlink("opq/sub/file", filepath.Join(src, "link"))
	if err := unix.Mknod(filepath.Join(src, "gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	snaps, err := OpenSnapshots(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	chain := v1.Hash{Algorithm: "sha256", Hex: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	if err := snaps.Adopt(context.Background(), chain, src); err != nil {
		t.Fatal(err)
	}
	dst := snaps.Path(chain)
	for _, p := range []string{"opq/sub/file", "link", "gone"} {
		var a, b unix.Stat_t
		unix.Lstat(filepath.Join(src, p), &a)
		if err := unix.Lstat(filepath.Join(dst, p), &b); err != nil || a.Ino != b.Ino {
			t.Errorf("%s: not a link of the layer's (%v)", p, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dst, "opq"), &st); err != nil || st.Mode&0o7777 != 0o1750 || st.Uid != 12 || st.Gid != 34 {
		t.Errorf("opq: mode %o owner %d:%d (%v), want 1750 12:34", st.Mode&0o7777, st.Uid, st.Gid, err)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(dst, "opq"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opq lost its opaque mark: %q %v", buf[:n], err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(dst)), "tmp-*")); len(left) > 0 {
		t.Errorf("temporary directories left: %v", left)
	}
}
