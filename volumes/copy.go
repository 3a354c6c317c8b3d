package volumes

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// copyRootMeta gives dst the owner, mode and extended attributes of src,
// as Docker gives a volume's root those of the image's directory it covers.
func copyRootMeta(src, dst string, fi os.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	// after chown, which clears setuid and setgid bits
	if err := os.Chmod(dst, fi.Mode()&(os.ModePerm|os.ModeSetgid|os.ModeSticky)); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(src, buf)
	if err != nil || n <= 0 {
		return nil
	}
	for _, name := range bytes.Split(buf[:n], []byte{0}) {
		k := string(name)
		if k == "" || strings.HasPrefix(k, "trusted.overlay.") {
			continue // overlayfs's own bookkeeping, not the directory's
		}
		val := make([]byte, 4096)
		m, err := unix.Lgetxattr(src, k, val)
		if err != nil {
			continue
		}
		if err := unix.Lsetxattr(dst, k, val[:m], 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return err
		}
	}
	return nil
}
