package volumes

import (
	"os"
	"syscall"
)

// copyRootMeta gives dst the owner and mode of src, as Docker gives a
// volume's root those of the image's directory it covers.
func copyRootMeta(src, dst string, fi os.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	return os.Chmod(dst, fi.Mode().Perm())
}
