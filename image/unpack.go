package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	// opaqueXattr marks a directory whose lower-layer contents overlayfs
	// must hide; whiteouts are 0/0 character devices.
	opaqueXattr = "trusted.overlay.opaque"
)

// decompress returns the uncompressed stream of a layer blob, recognising
// gzip and zstd by their magic numbers (media types are not always right) and
// passing anything else through as a plain tar.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// unpackLayer extracts one layer blob into dir in overlayfs form and checks
// that its uncompressed content has the digest diffID.
func unpackLayer(ctx context.Context, blob io.Reader, diffID v1.Hash, dir string) error {
	rc, err := decompress(blob)
	if err != nil {
		return wrap(ErrInvalid, err, fmt.Sprintf("layer %s: %v", diffID, err))
	}
	defer rc.Close()
	sum := sha256.New()
	if err := unpack(ctx, io.TeeReader(rc, sum), dir); err != nil {
		return err
	}
	// the tar reader stops at the end-of-archive marker: hash the padding too
	if _, err := io.Copy(sum, rc); err != nil {
		return wrap(ErrInvalid, err, fmt.Sprintf("layer %s: %v", diffID, err))
	}
	if got := hex.EncodeToString(sum.Sum(nil)); diffID.Hex != "" && got != diffID.Hex {
		return wrap(ErrDigest, nil, fmt.Sprintf("layer %s: uncompressed content has digest sha256:%s", diffID, got))
	}
	return nil
}

// unpack extracts a tar stream into dir. Whiteouts become 0/0 character
// devices and opaque markers the trusted.overlay.opaque xattr, so that dir can
// serve as an overlayfs lower directory. Every entry lands inside dir: names
// are cleaned, and parent directories are resolved within dir, symlinks
// included, so neither "../" nor a symlink planted by an earlier entry can
// write outside it. Owners, modes, times, xattrs, hard links and device nodes
// are kept.
func unpack(ctx context.Context, r io.Reader, dir string) error {
	type dirTimes struct {
		path         string
		atime, mtime time.Time
	}
	var dirs []dirTimes
	buf := make([]byte, 128<<10) // one copy buffer for every file
	err := eachEntry(ctx, r, "layer", func(hdr *tar.Header, body io.Reader) error {
		rel, err := entryName(hdr.Name)
		if err != nil || rel == "." {
			return err
		}
		parent, err := securejoin.SecureJoin(dir, filepath.Dir(rel))
		if err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		base := filepath.Base(rel)
		if base == opaqueMarker {
			if err := unix.Lsetxattr(parent, opaqueXattr, []byte("y"), 0); err != nil {
				return fmt.Errorf("marking %q opaque: %w", filepath.Dir(rel), err)
			}
			return nil
		}
		path := filepath.Join(parent, strings.TrimPrefix(base, whiteoutPrefix))
		if fi, err := os.Lstat(path); err == nil && !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(path); err != nil {
				return err
			}
		}
		if strings.HasPrefix(base, whiteoutPrefix) {
			if err := unix.Mknod(path, unix.S_IFCHR, 0); err != nil {
				return fmt.Errorf("whiteout %q: %w", rel, err)
			}
			return nil
		}
		if err := writeEntry(dir, path, hdr, body, buf); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeLink {
			return nil // shares the target's inode, metadata included
		}
		if err := os.Lchown(path, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if hdr.Typeflag != tar.TypeSymlink {
			// after chown, which clears setuid and setgid bits
			if err := os.Chmod(path, hdr.FileInfo().Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
				return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
			}
		}
		for k, v := range hdr.PAXRecords {
			if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
				if err := unix.Lsetxattr(path, name, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
					return fmt.Errorf("layer entry %q: xattr %s: %w", hdr.Name, name, err)
				}
			}
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTimes{path, hdr.AccessTime, hdr.ModTime})
			return nil
		}
		if err := setTimes(path, hdr.AccessTime, hdr.ModTime); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// directory times last: creating entries inside them changes them
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := setTimes(dirs[i].path, dirs[i].atime, dirs[i].mtime); err != nil {
			return err
		}
	}
	return nil
}

// eachEntry calls fn for every entry of the tar stream r (what names the
// stream in errors), stopping when ctx is done or fn fails.
func eachEntry(ctx context.Context, r io.Reader, what string, fn func(hdr *tar.Header, body io.Reader) error) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return wrap(ErrInvalid, err, fmt.Sprintf("reading %s: %v", what, err))
		}
		if err := fn(hdr, tr); err != nil {
			return err
		}
	}
}

// entryName cleans a tar entry name relative to the layer root and refuses
// one that climbs out of it ("../x", "/../x", "a/../../x").
func entryName(name string) (string, error) {
	c := path.Clean(strings.TrimLeft(filepath.ToSlash(name), "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", wrap(ErrInvalid, nil, fmt.Sprintf("layer entry %q leaves the layer", name))
	}
	return filepath.FromSlash(c), nil
}

func writeEntry(root, path string, hdr *tar.Header, r io.Reader, buf []byte) error {
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	case tar.TypeReg:
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		// hide os.File's ReadFrom, which would allocate a buffer per file
		_, err = io.CopyBuffer(struct{ io.Writer }{f}, r, buf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case tar.TypeSymlink:
		return os.Symlink(hdr.Linkname, path)
	case tar.TypeLink:
		target, err := entryName(hdr.Linkname)
		if err != nil {
			return err
		}
		parent, err := securejoin.SecureJoin(root, filepath.Dir(target))
		if err != nil {
			return err
		}
		// link(2) does not follow a symlink target: a link to a symlink is
		// a second name for the symlink, as in the tar.
		return os.Link(filepath.Join(parent, filepath.Base(target)), path)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(hdr.Mode & 0o7777)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		return unix.Mknod(path, mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	default:
		return nil // pax globals and the like carry no file
	}
	return nil
}

func setTimes(path string, atime, mtime time.Time) error {
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
}
