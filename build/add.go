package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	copy "github.com/tonistiigi/fsutil/copy"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/tarfs"
)

// unpack is ADD's archive rule (BuildKit's, Docker's before it): a local
// source that is a tar archive, plain or compressed, is extracted into
// the destination directory instead of copied. It reports whether src
// was one.
func unpack(ctx context.Context, srcRoot, src, destRoot, dest string, u *copy.User, tm *time.Time) (bool, error) {
	p, err := rootPath(srcRoot, src)
	if err != nil {
		return false, err
	}
	ok, err := isArchive(p)
	if err != nil || !ok {
		return false, err
	}
	d, err := rootPath(destRoot, dest)
	if err != nil {
		return false, err
	}
	if _, err := copy.MkdirAll(d, 0o755, chowner(u), tm); err != nil {
		return false, err
	}
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r, err := decompressed(f)
	if err != nil {
		return false, err
	}
	defer r.Close()
	var o tarfs.Options
	if u != nil {
		o.Owner = &[2]int{u.UID, u.GID}
	}
	// the hard links' headers, read beside the extraction
	pr, pw := io.Pipe()
	links := make(chan []*tar.Header, 1)
	go func() {
		var hs []*tar.Header
		tr := tar.NewReader(pr)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if h.Typeflag == tar.TypeLink {
				hs = append(hs, h)
			}
		}
		io.Copy(io.Discard, pr)
		links <- hs
	}()
	err = tarfs.Extract(ctx, io.TeeReader(r, pw), d, o)
	pw.Close()
	hs := <-links
	if err != nil {
		return false, err
	}
	return true, linkMetadata(d, hs, o.Owner)
}

// linkMetadata gives each hard link the owner and mode of its own
// header, as Docker's untar does (BuildKit's ADD uses it): they are the
// inode's, shared with the link's target, last written wins.
func linkMetadata(dir string, hs []*tar.Header, owner *[2]int) error {
	for _, h := range hs {
		name, err := tarfs.EntryName(h.Name)
		if err != nil {
			continue // tarfs.Extract refused it already
		}
		// the parent resolved in dir, the link itself not followed
		parent, err := rootPath(dir, filepath.Dir(name))
		if err != nil {
			return err
		}
		p := filepath.Join(parent, filepath.Base(name))
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			continue
		}
		uid, gid := h.Uid, h.Gid
		if owner != nil {
			uid, gid = owner[0], owner[1]
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
		if err := os.Chmod(p, h.FileInfo().Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
			return err
		}
	}
	return nil
}

// isArchive says whether p is a regular file holding a tar stream.
func isArchive(p string) (bool, error) {
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return false, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	r, err := decompressed(f)
	if err != nil {
		return false, err
	}
	defer r.Close()
	_, err = tar.NewReader(r).Next()
	return err == nil, nil
}

// decompressed is r uncompressed, the compression known by its magic
// number: gzip, bzip2, zstd, or none.
func decompressed(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(br)
		if err != nil {
			return io.NopCloser(bytes.NewReader(nil)), nil // not an archive after all
		}
		return z, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return io.NopCloser(bzip2.NewReader(br)), nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		z, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return z.IOReadCloser(), nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return nil, errclass.New(ErrUnsupported, "ADD of an xz-compressed archive is not supported by berth's builder yet")
	}
	return io.NopCloser(br), nil
}
