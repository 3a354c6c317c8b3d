package build

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/image"
)

// An image berth builds says, in a top-level field of its config, which
// step made each of its layers: the step's cache key, which output of
// the step the layer is and which of its inputs it stands on, as
// BuildKit's inline cache (moby.buildkit.cache.v0) says it. The field
// goes wherever the image goes (save and load, push and pull keep the
// config's bytes), and a Dockerfile FROM the image does not inherit it.
// The record is written when the build asks for it (--cache-to
// type=inline or the build arg BUILDKIT_INLINE_CACHE=1), as BuildKit
// writes its own, so that an image is otherwise BuildKit's to the byte.
// A build given the image in CacheFrom (--cache-from, compose's
// cache_from) takes a step whose key it names from the image's layer
// when its own cache lacks the step: the layer's files (the image's
// snapshot) are linked into a new cache entry, which the step then
// takes as any other; its blob is the image's. Keys name the steps'
// definitions and inputs, base images by ID and context files by
// content, so they hold on any machine.
const inlineCacheField = "berth.build.cache.v0"

// inlineCacheArg says whether the build args ask for the inline record,
// as BuildKit reads BUILDKIT_INLINE_CACHE.
func inlineCacheArg(args map[string]string) bool {
	v, err := strconv.ParseBool(args["BUILDKIT_INLINE_CACHE"])
	return err == nil && v
}

// ParseCacheTo reads a --cache-to value: type=inline is the one berth's
// builder writes (the record in the image's config); the other kinds
// export a cache elsewhere, which it does not.
func ParseCacheTo(spec string) error {
	for _, f := range strings.Split(spec, ",") {
		if k, v, _ := strings.Cut(f, "="); k == "type" && v == "inline" {
			return nil
		}
	}
	return errclass.New(ErrUnsupported, "--cache-to %s: only type=inline is supported by berth's builder (a cache export is not)", spec)
}

// inlineLayer is what the image says of one layer; nil for a layer no
// cached step made (a base image's).
type inlineLayer struct {
	Key string `json:"key"`
	// Output is which output of the step the layer is, Outputs how
	// many the step has, Input which input the layer stands on (-1:
	// none, scratch).
	Output  int `json:"output"`
	Outputs int `json:"outputs"`
	Input   int `json:"input"`
}

// inlineCache is the record of layers for the image's config: nil when
// no layer has a step's key.
func inlineCache(layers []layer) map[string]any {
	out := make([]*inlineLayer, len(layers))
	var some bool
	for i, l := range layers {
		if l.cache == nil {
			continue
		}
		r, err := readRecord(l.cache.entry)
		if err != nil || l.cache.output >= len(r.Outputs) {
			continue
		}
		out[i] = &inlineLayer{
			Key:    digest.NewDigestFromEncoded(digest.SHA256, filepath.Base(l.cache.entry)).String(),
			Output: l.cache.output, Outputs: len(r.Outputs), Input: r.Outputs[l.cache.output].Input,
		}
		some = true
	}
	if !some {
		return nil
	}
	return map[string]any{inlineCacheField: out}
}

// cacheSource is an image of CacheFrom and what its config says.
type cacheSource struct {
	img     v1.Image
	layers  []*inlineLayer
	descs   []v1.Descriptor
	diffIDs []v1.Hash
	created []time.Time // each layer's, from the history
}

// CacheFromRef is the image a --cache-from value names: a reference, or
// type=registry,ref=REF; "" for the other kinds (local, gha, ...), which
// berth's builder does not read.
func CacheFromRef(spec string) string {
	if !strings.Contains(spec, "=") {
		return spec
	}
	var typ, ref string
	for _, f := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "type":
			typ = v
		case "ref":
			ref = v
		}
	}
	if typ == "registry" {
		return ref
	}
	return ""
}

// cacheSources reads the CacheFrom images the store has, once; an image
// that is not here, or says nothing of its steps, adds nothing, as a
// cache BuildKit cannot import is passed over.
func (b *builder) cacheSources(ctx context.Context) []cacheSource {
	if b.sourcesRead {
		return b.sources
	}
	b.sourcesRead = true
	for _, spec := range b.o.CacheFrom {
		ref := CacheFromRef(spec)
		if ref == "" {
			continue
		}
		_, img, err := b.store.Lookup(ref)
		if err != nil {
			continue
		}
		src, ok := readCacheSource(img)
		if !ok || b.snaps.Prepare(ctx, b.store, img, nil) != nil {
			continue
		}
		b.sources = append(b.sources, src)
	}
	return b.sources
}

func readCacheSource(img v1.Image) (cacheSource, bool) {
	raw, err := img.RawConfigFile()
	if err != nil {
		return cacheSource{}, false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || fields[inlineCacheField] == nil {
		return cacheSource{}, false
	}
	src := cacheSource{img: img}
	cf, err := img.ConfigFile()
	m, merr := img.Manifest()
	if err != nil || merr != nil || json.Unmarshal(fields[inlineCacheField], &src.layers) != nil {
		return cacheSource{}, false
	}
	src.descs, src.diffIDs = m.Layers, cf.RootFS.DiffIDs
	if len(src.layers) != len(src.diffIDs) || len(src.descs) != len(src.diffIDs) {
		return cacheSource{}, false
	}
	for _, h := range cf.History {
		if !h.EmptyLayer {
			src.created = append(src.created, h.Created.Time)
		}
	}
	return src, true
}

// lookupOrImport is lookup, and failing it the layer a CacheFrom image
// has of the step key, made the step's cache entry first.
func (b *builder) lookupOrImport(ctx context.Context, key digest.Digest, inputs []*fsState) []*fsState {
	if outs := b.lookup(key, inputs); outs != nil {
		return outs
	}
	for _, src := range b.cacheSources(ctx) {
		for n, l := range src.layers {
			if l == nil || l.Key != key.String() || l.Outputs != 1 || l.Output != 0 || !src.standsOn(n, l.Input, inputs) {
				continue
			}
			if b.importLayer(ctx, key, src, n, l.Input) {
				return b.lookup(key, inputs)
			}
		}
	}
	return nil
}

// standsOn says whether layer n of the image can be the step's output on
// inputs: the input it stands on has the n layers below it (those whose
// blob is known, the same ones).
func (src cacheSource) standsOn(n, input int, inputs []*fsState) bool {
	if input < 0 {
		return true
	}
	if input >= len(inputs) || inputs[input].plain != "" || len(inputs[input].layers) != n {
		return false
	}
	for j, l := range inputs[input].layers {
		if l.desc != nil && l.diffID != src.diffIDs[j] {
			return false
		}
	}
	return true
}

// importLayer makes the cache entry of key from layer n of src: its
// files linked from the image's snapshot, its blob the image's.
func (b *builder) importLayer(ctx context.Context, key digest.Digest, src cacheSource, n, input int) bool {
	tmp, err := b.newDir("cache")
	if err != nil {
		return false
	}
	chain := image.ChainIDs(src.diffIDs)[n]
	if err := b.snaps.LinkOut(ctx, chain, filepath.Join(tmp, "0")); err != nil {
		return false
	}
	desc, diffID := src.descs[n], src.diffIDs[n]
	r := &cacheRecord{Outputs: []cacheOutput{{Input: input, Dir: "0", Size: dirSize(filepath.Join(tmp, "0")), Blob: &desc, DiffID: &diffID}}}
	if n < len(src.created) {
		r.Created = src.created[n]
	}
	if writeRecord(tmp, r) != nil {
		return false
	}
	entry := filepath.Join(cacheDir(b.o.Root), "steps", key.Encoded())
	if err := os.Rename(tmp, entry); err != nil {
		// another build made the entry meanwhile: it is as good
		return errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY)
	}
	return true
}
