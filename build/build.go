package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/image"
)

// Error classes.
var (
	// ErrInvalid: the Dockerfile, an argument or the context is wrong.
	ErrInvalid = errclass.Sentinel(errclass.ErrInvalid, "invalid build")
	// ErrUnsupported: the build needs an operation berth does not execute.
	ErrUnsupported = errclass.Sentinel(errclass.ErrInvalid, "not supported by berth's builder yet")
	// ErrFailed: a step ran and failed (a RUN's command exited non-zero).
	ErrFailed = errclass.Sentinel(errclass.ErrFailed, "build step failed")
)

// Options say what to build.
type Options struct {
	// Root is berth's state root: the image store the build reads its
	// bases from and writes its image to.
	Root string
	// ContextDir is the build context, the directory COPY reads.
	ContextDir string
	// Dockerfile is the Dockerfile's path; empty is ContextDir/Dockerfile.
	// DockerfileInline, when set, is the Dockerfile itself.
	Dockerfile       string
	DockerfileInline []byte
	// BuildArgs are --build-arg values; Target is the stage to build
	// (empty: the last).
	BuildArgs map[string]string
	Target    string
	// Labels are added to the image's (--label).
	Labels map[string]string
	// Tags name the image; none leaves it known by its ID.
	Tags []string
	// Progress gets the plain progress lines; nil is none.
	Progress io.Writer
	// Pull shows a base image's pull, when one must be pulled.
	Pull image.Progress
	// RunOptions say how RUN steps run (network, secrets, ...).
	RunOptions
	// AlwaysPull pulls each base image (FROM) even when the store has it
	// (--pull).
	AlwaysPull bool
}

// Result is what a build made.
type Result struct {
	// ID is the image's ID (its config digest).
	ID v1.Hash
	// Names are the full references the image got.
	Names []string
}

// Build turns a Dockerfile into an image in berth's store. On failure it
// leaves nothing behind: no mount, no container, no step's files, no tag.
func Build(ctx context.Context, o Options) (Result, error) {
	dockerfile, err := readDockerfile(o)
	if err != nil {
		return Result{}, err
	}
	if o.ContextDir == "" {
		return Result{}, errclass.New(ErrInvalid, "no build context given")
	}
	if err := o.RunOptions.check(); err != nil {
		return Result{}, err
	}
	if fi, err := os.Stat(o.ContextDir); err != nil || !fi.IsDir() {
		return Result{}, errclass.New(ErrInvalid, "build context %q is not a directory", o.ContextDir)
	}
	var names []string
	for _, t := range o.Tags {
		r, err := image.ParseReference(t)
		if err != nil {
			return Result{}, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("invalid tag %q", t))
		}
		names = append(names, image.FullName(r))
	}
	// absolute, for the mount table's paths that the sweep compares
	if o.Root, err = filepath.Abs(o.Root); err != nil {
		return Result{}, err
	}
	store, snaps, err := image.OpenRoot(o.Root)
	if err != nil {
		return Result{}, err
	}
	release, err := store.Hold(ctx)
	if err != nil {
		return Result{}, err
	}
	defer release()
	work := filepath.Join(o.Root, "build")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return Result{}, err
	}
	sweep(work, runDir(o.Root))
	dir, done, err := workspace(work)
	if err != nil {
		return Result{}, err
	}
	defer done()
	b := &builder{
		o: o, store: store, snaps: snaps, dir: dir, bases: map[string]v1.Image{},
		results: map[digest.Digest][]*fsState{}, progress: newProgress(o.Progress),
	}
	run, err := b.runConfig(ctx)
	if err != nil {
		return Result{}, err
	}
	p, err := convertRun(ctx, dockerfile, o.BuildArgs, o.Target, o.Labels, run, b.resolve)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return Result{}, errclass.Wrap(ErrInvalid, err, oneLine(err.Error()))
	}
	if err := b.load(p.def); err != nil {
		return Result{}, err
	}
	b.progress.locate(p.def, b.meta, dockerfile)
	final, err := b.solveTarget(ctx)
	if err != nil {
		return Result{}, b.progress.located(err)
	}
	id, err := b.export(ctx, final, p.config, names)
	if err != nil {
		return Result{}, err
	}
	return Result{ID: id, Names: names}, nil
}

func readDockerfile(o Options) ([]byte, error) {
	if o.DockerfileInline != nil {
		return o.DockerfileInline, nil
	}
	path := o.Dockerfile
	if path == "" {
		path = filepath.Join(o.ContextDir, "Dockerfile")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errclass.New(ErrInvalid, "failed to read dockerfile: open %s: no such file or directory", path)
		}
		return nil, fmt.Errorf("reading the Dockerfile %q: %w", path, err)
	}
	return data, nil
}

// builder executes one build's LLB definition.
type builder struct {
	o     Options
	store *image.Store
	snaps *image.Snapshots
	// dir holds the build's own files: each step's upper directory, work
	// directories, mount points; removed when the build ends.
	dir string
	seq int
	// bases are the images FROM names, resolved once (convertRun
	// serialises the frontend's concurrent lookups).
	bases map[string]v1.Image

	ops      map[digest.Digest]*pb.Op
	meta     map[digest.Digest]*pb.OpMetadata
	terminal *pb.Input
	results  map[digest.Digest][]*fsState
	progress *progress
}

// fsState is a filesystem an operation produced: a stack of layers
// (bottom first), or a plain directory (the build context).
type fsState struct {
	layers []layer
	plain  string
}

// layer is one layer of a state: a stored image's (desc set) or one a
// step made here (its overlay upper directory).
type layer struct {
	desc   *v1.Descriptor
	diffID v1.Hash
	dir    string // its files in overlayfs form
}

// load indexes the definition's operations by digest.
func (b *builder) load(def *pb.Definition) error {
	b.ops = map[digest.Digest]*pb.Op{}
	b.meta = map[digest.Digest]*pb.OpMetadata{}
	var last *pb.Op
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return fmt.Errorf("reading the build graph: %w", err)
		}
		d := digest.FromBytes(dt)
		b.ops[d] = &op
		if m, ok := def.Metadata[string(d)]; ok {
			b.meta[d] = m
		}
		last = &op
	}
	if last == nil || last.Op != nil || len(last.Inputs) != 1 {
		return errclass.New(ErrInvalid, "the build graph has no target")
	}
	b.terminal = last.Inputs[0]
	return nil
}

func (b *builder) solveTarget(ctx context.Context) (*fsState, error) {
	return b.solve(ctx, b.terminal)
}

// solve returns the state input in names, executing what it depends on
// first, each operation once.
func (b *builder) solve(ctx context.Context, in *pb.Input) (*fsState, error) {
	d := digest.Digest(in.Digest)
	if outs, ok := b.results[d]; ok {
		return pick(outs, in.Index)
	}
	op, ok := b.ops[d]
	if !ok {
		return nil, errclass.New(ErrInvalid, "the build graph names an operation %s it does not hold", d)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inputs := make([]*fsState, len(op.Inputs))
	for i, dep := range op.Inputs {
		st, err := b.solve(ctx, dep)
		if err != nil {
			return nil, err
		}
		inputs[i] = st
	}
	var outs []*fsState
	var err error
	name := b.meta[d].GetDescription()["llb.customname"]
	switch o := op.Op.(type) {
	case *pb.Op_Source:
		outs, err = b.source(ctx, o.Source, name)
	case *pb.Op_Exec:
		outs, err = b.exec(ctx, o.Exec, inputs, name)
	case *pb.Op_File:
		outs, err = b.file(ctx, o.File, inputs, name)
	case *pb.Op_Build:
		err = unsupported("build (a nested LLB build)", name)
	case *pb.Op_Merge:
		outs, err = b.merge(ctx, o.Merge, inputs, name)
	case *pb.Op_Diff:
		err = unsupported("diff", name)
	default:
		err = unsupported(fmt.Sprintf("%T", op.Op), name)
	}
	if err != nil {
		return nil, err
	}
	b.results[d] = outs
	return pick(outs, in.Index)
}

func pick(outs []*fsState, i int64) (*fsState, error) {
	if i < 0 || int(i) >= len(outs) {
		return nil, errclass.New(ErrInvalid, "the build graph asks for output %d of an operation that has %d", i, len(outs))
	}
	return outs[i], nil
}

func unsupported(kind, step string) error {
	if step != "" {
		return errclass.New(ErrUnsupported, "%s: operation kind %s is not supported by berth's builder yet", step, kind)
	}
	return errclass.New(ErrUnsupported, "operation kind %s is not supported by berth's builder yet", kind)
}

// newDir makes a fresh directory in the build's own space.
func (b *builder) newDir(kind string) (string, error) {
	b.seq++
	p := filepath.Join(b.dir, fmt.Sprintf("%s-%d", kind, b.seq))
	return p, os.Mkdir(p, 0o755)
}

// lowers are st's layer directories, top first, for an overlay; an
// empty state (scratch) is one empty directory, since overlayfs needs a
// lower layer.
func (b *builder) lowers(st *fsState) ([]string, error) {
	if st.plain != "" {
		return []string{st.plain}, nil
	}
	var out []string
	for i := len(st.layers) - 1; i >= 0; i-- {
		out = append(out, st.layers[i].dir)
	}
	if len(out) == 0 {
		d, err := b.newDir("empty")
		if err != nil {
			return nil, err
		}
		out = []string{d}
	}
	return out, nil
}

// with is st plus the layer whose files are in upper.
func with(st *fsState, upper string) *fsState {
	layers := append(append([]layer(nil), st.layers...), layer{dir: upper})
	return &fsState{layers: layers}
}

func randomID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// export stores the final state as an image whose config is the
// frontend's, with its history matched to the layers as BuildKit's
// exporter matches them.
func (b *builder) export(ctx context.Context, st *fsState, config []byte, names []string) (v1.Hash, error) {
	if st.plain != "" {
		return v1.Hash{}, errclass.New(ErrUnsupported, "the target is the build context itself, not an image")
	}
	step := b.progress.start("exporting to image")
	var cf v1.ConfigFile
	if err := json.Unmarshal(config, &cf); err != nil {
		return v1.Hash{}, fmt.Errorf("reading the image config the frontend made: %w", err)
	}
	var base []v1.Descriptor
	var diffIDs []v1.Hash
	var more []func(io.Writer) error
	for _, l := range st.layers {
		if l.desc != nil {
			base = append(base, *l.desc)
			diffIDs = append(diffIDs, l.diffID)
			continue
		}
		more = append(more, layerWriter(ctx, l.dir))
	}
	now := time.Now().UTC()
	cf.Created = v1.Time{Time: now}
	cf.RootFS = v1.RootFS{Type: "layers", DiffIDs: diffIDs}
	cf.History = normalizeHistory(cf.History, len(st.layers), now)
	id, err := image.Assemble(ctx, b.store, b.snaps, cf, base, more, names)
	if err != nil {
		step.fail(err)
		return v1.Hash{}, err
	}
	step.log("writing image " + id.String())
	for _, n := range names {
		step.log("naming to " + n)
	}
	step.done()
	return id, nil
}

// normalizeHistory matches history to layers layers as BuildKit's
// exporter does: entries for layers that are not there become empty
// ones from the bottom, layers without an entry get one, and entries
// without a time get the time of the layer before them (or now).
func normalizeHistory(history []v1.History, layers int, now time.Time) []v1.History {
	var withLayer int
	for _, h := range history {
		if !h.EmptyLayer {
			withLayer++
		}
	}
	if withLayer > layers {
		var n int
		for i := range history {
			if n >= layers {
				history[i].EmptyLayer = true
			}
			if !history[i].EmptyLayer {
				n++
			}
		}
	}
	for ; withLayer < layers; withLayer++ {
		history = append(history, v1.History{CreatedBy: "berth build", Comment: "buildkit.exporter.image.v0"})
	}
	created := v1.Time{Time: now}
	for i := range history {
		if history[i].Created.IsZero() {
			history[i].Created = created
		}
	}
	return history
}
