package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Snapshots keeps unpacked layers under <root>/snapshots, one directory per
// chain ID: <chain>/fs holds the layer's own files in overlayfs form. A
// snapshot appears only complete (unpacked under a temporary name, then
// renamed), is shared by every image whose layers up to it are the same, and
// is removed by GC once no image uses it.
type Snapshots struct {
	dir string
}

// OpenSnapshots opens (creating if needed) the snapshot directory.
func OpenSnapshots(dir string) (*Snapshots, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating snapshot directory %q: %w", dir, err)
	}
	return &Snapshots{dir: dir}, nil
}

// ChainIDs are the OCI chain IDs of a stack of layers: the first is the first
// diff ID, each next is sha256(previous + " " + diff ID). A chain ID names a
// layer together with everything under it.
func ChainIDs(diffIDs []v1.Hash) []v1.Hash {
	out := make([]v1.Hash, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		sum := sha256.Sum256([]byte(out[i-1].String() + " " + d.String()))
		out[i] = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	}
	return out
}

// Path is the directory holding the files of the snapshot chain.
func (s *Snapshots) Path(chain v1.Hash) string {
	return filepath.Join(s.dir, chain.Hex, "fs")
}

// Has reports whether the snapshot chain is unpacked.
func (s *Snapshots) Has(chain v1.Hash) bool {
	_, err := os.Stat(s.Path(chain))
	return err == nil
}

// Prepare unpacks every layer of img that is not unpacked yet, under the
// store's shared lock so that no collection runs meanwhile. report, if
// not nil, is told when a layer starts and ends extracting.
func (s *Snapshots) Prepare(ctx context.Context, store *Store, img v1.Image, report func(layer v1.Hash, status string)) error {
	unlock, err := store.lockShared(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading image config: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return wrap(ErrInvalid, nil, fmt.Sprintf("image has %d layers but %d diff IDs", len(m.Layers), len(cfg.RootFS.DiffIDs)))
	}
	chains := ChainIDs(cfg.RootFS.DiffIDs)
	for i, l := range m.Layers {
		if err := s.unpack(ctx, store, l.Digest, cfg.RootFS.DiffIDs[i], chains[i], report); err != nil {
			return err
		}
	}
	return nil
}

// unpack makes the snapshot chain from the stored layer blob, once: a
// second process unpacking the same chain waits, then finds it done.
func (s *Snapshots) unpack(ctx context.Context, store *Store, blob, diffID, chain v1.Hash, report func(v1.Hash, string)) error {
	what := fmt.Sprintf("unpacking layer %s", blob)
	made, err := s.makeOnce(ctx, chain, what, func(fsDir string) error {
		if report != nil {
			report(blob, "Extracting")
		}
		f, err := store.OpenBlob(blob)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := os.Mkdir(fsDir, 0o755); err != nil {
			return err
		}
		if err := unpackLayer(ctx, f, diffID, fsDir); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
	if made && report != nil {
		report(blob, "Pull complete")
	}
	return err
}

// makeOnce makes the snapshot chain unless it exists, whole or not at
// all: fill writes its files into fsDir, in a temporary directory renamed
// into place once complete, under the chain's lock, so that a second
// process making the same chain waits, then finds it done. what names the
// work in the error of the rename; made says whether this call made it.
func (s *Snapshots) makeOnce(ctx context.Context, chain v1.Hash, what string, fill func(fsDir string) error) (made bool, err error) {
	if s.Has(chain) {
		return false, nil
	}
	unlock, err := lockFile(ctx, filepath.Join(s.dir, chain.Hex+".lock"), unix.LOCK_EX)
	if err != nil {
		return false, err
	}
	defer unlock()
	if s.Has(chain) {
		return false, nil
	}
	tmp, err := os.MkdirTemp(s.dir, "tmp-"+chain.Hex[:12]+"-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp) // gone once renamed; clears a failed one
	if err := fill(filepath.Join(tmp, "fs")); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, chain.Hex)); err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	return true, nil
}

// Lowers returns the directories that form img's root filesystem, top layer
// first: the lowerdir list of an overlay mount. Every layer must be unpacked
// (Prepare). The image package never mounts; the runtime does.
func (s *Snapshots) Lowers(img v1.Image) ([]string, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	chains := ChainIDs(cfg.RootFS.DiffIDs)
	out := make([]string, 0, len(chains))
	for i := len(chains) - 1; i >= 0; i-- {
		if !s.Has(chains[i]) {
			return nil, wrap(ErrNotFound, nil, fmt.Sprintf("layer %s is not unpacked", chains[i]))
		}
		out = append(out, s.Path(chains[i]))
	}
	return out, nil
}

// gc removes every snapshot whose chain is not in keep, and what unpacks
// leave: lock files and the temporary directories of an unpack that was
// killed. The caller holds the store's exclusive lock, under which no unpack
// runs (Prepare holds the shared one).
func (s *Snapshots) gc(keep map[v1.Hash]bool) error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() && !strings.HasPrefix(name, "tmp-") && keep[v1.Hash{Algorithm: "sha256", Hex: name}] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Adopt makes the snapshot chain from dir, which holds the layer's own
// files in overlayfs form, by hard-linking them rather than unpacking
// the layer's blob again: a builder has the files already. Both dir and
// the snapshot are left unchanged from then on (they share inodes). A
// snapshot appears complete or not at all, as with an unpack; the caller
// holds the store's shared lock.
func (s *Snapshots) Adopt(ctx context.Context, chain v1.Hash, dir string) error {
	what := fmt.Sprintf("adopting layer %s", chain)
	_, err := s.makeOnce(ctx, chain, what, func(fsDir string) error {
		if err := linkTree(ctx, dir, fsDir); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
	return err
}

// LinkOut makes dst a copy of the snapshot chain's files, hard-linked as
// Adopt links them in: a builder's step cache takes a stored image's
// layer so. The caller holds the store's shared lock.
func (s *Snapshots) LinkOut(ctx context.Context, chain v1.Hash, dst string) error {
	if !s.Has(chain) {
		return wrap(ErrNotFound, nil, fmt.Sprintf("layer %s is not unpacked", chain))
	}
	return linkTree(ctx, s.Path(chain), dst)
}

// linkTree makes dst a copy of the directory src whose directories are
// new (with src's owners, modes, extended attributes and times) and
// whose other entries are hard links to src's.
func linkTree(ctx context.Context, src, dst string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if e.IsDir() {
			if err := linkTree(ctx, s, d); err != nil {
				return err
			}
			continue
		}
		if err := unix.Linkat(unix.AT_FDCWD, s, unix.AT_FDCWD, d, 0); err != nil {
			return &os.LinkError{Op: "link", Old: s, New: d, Err: err}
		}
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	// after chown, which clears set-id bits
	if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
		return err
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}

// copyXattrs copies a directory's extended attributes (overlayfs's
// opaque mark among them).
func copyXattrs(src, dst string) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(src, buf)
	if err != nil {
		return err
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		n, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			return err
		}
		val := make([]byte, n)
		if n, err = unix.Lgetxattr(src, name, val); err != nil {
			return err
		}
		if err := unix.Lsetxattr(dst, name, val[:n], 0); err != nil {
			return err
		}
	}
	return nil
}
