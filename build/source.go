package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/image"
)

// resolve gives the frontend the config of the image a FROM names, from
// berth's store, pulling it when it is not there. The image is kept for
// the source operation that the frontend then emits for it.
func (b *builder) resolve(ctx context.Context, ref string) (digest.Digest, []byte, error) {
	img, err := b.base(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return "", nil, err
	}
	return "", raw, nil
}

// base finds (or pulls) the image ref names.
func (b *builder) base(ctx context.Context, ref string) (v1.Image, error) {
	r, err := image.ParseReference(ref)
	if err != nil {
		return nil, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("invalid image name %q", ref))
	}
	full := image.FullName(r)
	img, ok := b.bases[full]
	if ok {
		return img, nil
	}
	_, img, err = b.store.Lookup(full)
	if errors.Is(err, image.ErrNotFound) || b.o.AlwaysPull {
		step := b.progress.start("[internal] load metadata for " + full)
		if _, err := image.Pull(ctx, b.store, b.snaps, full, image.PullOptions{Progress: b.progress.pulls(b.o.Pull)}); err != nil {
			step.fail(err)
			return nil, err
		}
		step.done()
		_, img, err = b.store.Lookup(full)
	}
	if err != nil {
		return nil, err
	}
	b.bases[full] = img
	return img, nil
}

// source executes a source operation: an image (FROM) or the local
// build context.
func (b *builder) source(ctx context.Context, src *pb.SourceOp, name string) ([]*fsState, error) {
	id := src.Identifier
	switch {
	case strings.HasPrefix(id, "docker-image://"):
		step := b.progress.start(name)
		st, err := b.imageState(ctx, strings.TrimPrefix(id, "docker-image://"))
		if err != nil {
			step.fail(err)
			return nil, err
		}
		step.done()
		return []*fsState{st}, nil
	case id == "local://context" || id == "local://dockerfile":
		// the frontend's include list (local.followpaths) only narrows
		// what it reads: the context is all .dockerignore leaves
		dir, err := b.context()
		if err != nil {
			return nil, err
		}
		return []*fsState{{plain: dir, ctx: b.bctx}}, nil
	case strings.HasPrefix(id, "local://"+localPrefix):
		st, err := b.localContext(strings.TrimPrefix(id, "local://"))
		if err != nil {
			return nil, err
		}
		return []*fsState{st}, nil
	case strings.HasPrefix(id, "local://"):
		return nil, unsupported("source "+id+" (a named context)", name)
	case strings.HasPrefix(id, "https://"), strings.HasPrefix(id, "http://"):
		return b.httpSource(ctx, src, name)
	case strings.HasPrefix(id, "git://"):
		return nil, unsupported("source "+id+" (a git repository)", name)
	}
	return nil, unsupported("source "+id, name)
}

// imageState is the stack of an image's layers, unpacked.
func (b *builder) imageState(ctx context.Context, ref string) (*fsState, error) {
	// the reference as FROM gave it, a digest included: resolve pinned
	// none
	img, err := b.base(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := b.snaps.Prepare(ctx, b.store, img, nil); err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	chains := image.ChainIDs(cf.RootFS.DiffIDs)
	id, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	st := &fsState{key: "image " + id.String()}
	for i, l := range m.Layers {
		desc := l
		st.layers = append(st.layers, layer{desc: &desc, diffID: cf.RootFS.DiffIDs[i], dir: b.snaps.Path(chains[i])})
	}
	return st, nil
}

// context walks the build context, once per build, and makes the view of
// it that the steps read: the directory less what .dockerignore takes.
func (b *builder) context() (string, error) {
	if b.bctx != nil {
		return b.ctxView, nil
	}
	bctx, view, err := b.walkView(b.o.ContextDir, ignoreFile(b.o), b.o.ContextDir, filepath.Join(b.dir, "context"))
	if err != nil {
		return "", err
	}
	b.bctx, b.ctxView = bctx, view
	return view, nil
}

// walkView walks the context directory dir, less what the patterns of its
// ignore file take, its files' digests kept in the cache under key, and
// makes the view of it at target.
func (b *builder) walkView(dir, ignore, key, target string) (*buildContext, string, error) {
	patterns, err := readIgnore(ignore)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256([]byte(key))
	stats := filepath.Join(cacheDir(b.o.Root), "context", hex.EncodeToString(sum[:12])+".json")
	bctx, err := walkContext(dir, patterns, stats)
	if err != nil {
		return nil, "", err
	}
	layer, err := b.newDir("ignored")
	if err != nil {
		return nil, "", err
	}
	view, err := bctx.view(layer, target)
	if err != nil {
		return nil, "", err
	}
	return bctx, view, nil
}
