package build

import (
	"bytes"
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
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/build/frontend/wire"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/image"
)

// Error classes.
var (
	// ErrInvalid: the Dockerfile, an argument or the context is wrong.
	ErrInvalid = errclass.Sentinel(errclass.ErrInvalid, "invalid build")
	// ErrUnsupported: the build needs an operation berth does not execute.
	ErrUnsupported = wire.ErrUnsupported
	// ErrFailed: a step ran and failed (a RUN's command exited non-zero).
	ErrFailed = errclass.Sentinel(errclass.ErrFailed, "build step failed")
)

// ExitError is a RUN step whose command exited non-zero, of class
// ErrFailed. The CLI exits with its Code, so that a script sees the
// command's own status (docker build exits 1 whatever it was).
type ExitError struct {
	Args []string
	Code int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("process %q did not complete successfully: exit code: %d", strings.Join(e.Args, " "), e.Code)
}

func (e *ExitError) Unwrap() error { return ErrFailed }

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
	// NoCache runs every step, as docker build --no-cache; NoCacheFilter
	// runs the steps of the stages it names (--no-cache-filter, compose's
	// no_cache). The steps still go into the cache.
	NoCache       bool
	NoCacheFilter []string
	// Contexts are the named build contexts (--build-context, compose's
	// additional_contexts), by name: a directory (relative to the
	// working directory) or docker-image://REF.
	Contexts map[string]string
	// CacheFrom are images a step may take its layer from when the step
	// cache lacks it (--cache-from, compose's cache_from; cachefrom.go).
	// InlineCache has the image's config name the steps of its layers,
	// for later builds' CacheFrom (--cache-to type=inline; so does the
	// build arg BUILDKIT_INLINE_CACHE=1, as with BuildKit).
	CacheFrom   []string
	InlineCache bool
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
	named, err := checkContexts(o.Contexts)
	if err != nil {
		return Result{}, err
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
	// absolute, as the overlay of the context and the name of its digest
	// cache want it
	if o.ContextDir, err = filepath.Abs(o.ContextDir); err != nil {
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
	releaseCache, err := holdCache(ctx, o.Root)
	if err != nil {
		return Result{}, err
	}
	defer releaseCache()
	dir, done, err := workspace(work)
	if err != nil {
		return Result{}, err
	}
	defer done()
	// the layers written ahead (storeAhead) end before the directory goes
	ahead, cancel := context.WithCancel(ctx)
	b := &builder{
		o: o, store: store, snaps: snaps, dir: dir, bases: map[string]v1.Image{},
		results: map[digest.Digest][]*fsState{}, progress: newProgress(o.Progress),
		ahead: ahead, blobs: map[string]*layerBlob{}, writers: make(chan struct{}, 2),
		named: named, locals: map[string]*fsState{}, layers: map[string]*fsState{}, descs: map[string]string{},
	}
	defer b.progress.finish()
	defer b.wait.Wait()
	defer cancel()
	run, err := b.runConfig(ctx)
	if err != nil {
		return Result{}, err
	}
	p, err := convertRequest(ctx, b.o.Root, b.request(dockerfile, run), b.resolve)
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		// not the frontend's refusal: berth-build missing or failed
		var refused *wire.Error
		if !errors.As(err, &refused) {
			return Result{}, err
		}
		return Result{}, errclass.Wrap(ErrInvalid, err, oneLine(err.Error()))
	}
	if err := b.load(p.def); err != nil {
		return Result{}, err
	}
	b.progress.locate(p.def, b.meta, dockerfile)
	if len(o.NoCacheFilter) > 0 {
		b.onlyStage = onlyStage(dockerfile)
	}
	b.final = b.finalOps()
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
	// bases are the images FROM names, resolved once (the frontend
	// serialises its concurrent lookups).
	bases map[string]v1.Image

	ops      map[digest.Digest]*pb.Op
	meta     map[digest.Digest]*pb.OpMetadata
	terminal *pb.Input
	results  map[digest.Digest][]*fsState
	progress *progress

	// bctx is the build context, walked when a step first needs it.
	bctx    *buildContext
	ctxView string
	// named are the named contexts; locals the directory ones' states,
	// walked when a step first needs them; layers the directories made
	// layers for the stages on them (named.go)
	named  *namedContexts
	locals map[string]*fsState
	layers map[string]*fsState
	// descs describe the layers made here, by directory (history.go)
	descs map[string]string
	// onlyStage is the name of a one-stage Dockerfile's stage, whose
	// steps' names do not carry it (for NoCacheFilter).
	onlyStage string

	// blobs are the layers being written into the image store while the
	// build goes on (storeAhead), by directory; at most cap(writers) at
	// a time, under ahead, which ends with the build.
	ahead   context.Context
	final   map[digest.Digest]bool // the operations whose layers the image has
	blobs   map[string]*layerBlob
	writers chan struct{}
	wait    sync.WaitGroup

	// sources are the CacheFrom images, read when a step first looks
	sources     []cacheSource
	sourcesRead bool
}

// finalOps are the operations that make the target's layers: from the
// target down, each exec's root filesystem and each file operation's
// output, to the image or scratch at the bottom. Only their layers are
// written ahead; another stage's would be written for nothing.
func (b *builder) finalOps() map[digest.Digest]bool {
	final := map[digest.Digest]bool{}
	in := b.terminal
	for in != nil && !final[digest.Digest(in.Digest)] {
		d := digest.Digest(in.Digest)
		op := b.ops[d]
		if op == nil {
			break
		}
		final[d] = true
		next := int64(pb.Empty)
		switch o := op.Op.(type) {
		case *pb.Op_Exec:
			for _, m := range o.Exec.Mounts {
				if m.Dest == pb.RootMount && m.Output == in.Index {
					next = int64(m.Input)
				}
			}
		case *pb.Op_File:
			// the action with that output, then down its chain of actions
			var a *pb.FileAction
			for _, x := range o.File.Actions {
				if int64(x.Output) == in.Index {
					a = x
				}
			}
			for a != nil {
				next = a.Input
				a = nil
				if j := next - int64(len(op.Inputs)); j >= 0 && j < int64(len(o.File.Actions)) {
					a = o.File.Actions[j]
				}
			}
		}
		in = nil
		if next >= 0 && next < int64(len(op.Inputs)) {
			in = op.Inputs[next]
		}
	}
	return final
}

// layerBlob is a layer being stored: its descriptor and diff ID once
// done is closed.
type layerBlob struct {
	done   chan struct{}
	desc   v1.Descriptor
	diffID v1.Hash
	err    error
}

// storeAhead starts writing the layer in dir into the image store, so
// that the export finds it written: a step's layer is final once the
// step ends, and the tar and gzip of a large one then overlap with the
// steps that follow (a RUN mostly waits on its process).
func (b *builder) storeAhead(dir string) {
	if _, ok := b.blobs[dir]; ok {
		return
	}
	lb := &layerBlob{done: make(chan struct{})}
	b.blobs[dir] = lb
	b.wait.Add(1)
	go func() {
		defer b.wait.Done()
		defer close(lb.done)
		select {
		case b.writers <- struct{}{}:
		case <-b.ahead.Done():
			lb.err = b.ahead.Err()
			return
		}
		defer func() { <-b.writers }()
		lb.desc, lb.diffID, lb.err = image.StoreLayer(b.ahead, b.store, layerWriter(b.ahead, dir))
	}()
}

// fsState is a filesystem an operation produced: a stack of layers
// (bottom first), or a plain directory (the build context).
type fsState struct {
	layers []layer
	plain  string
	// ctx is the walked context a plain state shows, for the keys of the
	// steps that read it; nil: such steps are not cached
	ctx *buildContext
	// key names the state in the step cache: the cache key of the step
	// that made it and which of its outputs it is, or for an image its
	// ID. Empty: a state this build alone has (a step run without the
	// cache whose result could not be kept), on which nothing is cached.
	key string
}

// layer is one layer of a state: a stored image's (desc set) or one a
// step made here (its overlay upper directory).
type layer struct {
	desc   *v1.Descriptor
	diffID v1.Hash
	dir    string // its files in overlayfs form
	// created is when the step that made it ran (zero: a base image's)
	created time.Time
	// cache is the step cache entry it is kept in, if any
	cache *cacheRef
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
	case *pb.Op_Exec, *pb.Op_File:
		outs, err = b.step(ctx, d, op, inputs, name)
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
	b.describe(op, name, outs)
	b.results[d] = outs
	return pick(outs, in.Index)
}

// step executes an exec or file operation, or takes its result from the
// step cache when an earlier build ran it on the same inputs; what it
// runs goes into the cache.
func (b *builder) step(ctx context.Context, d digest.Digest, op *pb.Op, inputs []*fsState, name string) ([]*fsState, error) {
	if err := b.standOn(ctx, op, inputs); err != nil {
		return nil, err
	}
	key, keyed := b.cacheKey(op, inputs)
	if keyed && !b.noCache(d, name) {
		if outs := b.lookupOrImport(ctx, key, inputs); outs != nil {
			b.progress.start(name).end("cached")
			for i, st := range outs {
				st.key = outputKey(key, i)
				if l := st.layers[len(st.layers)-1]; l.desc == nil && b.final[d] {
					b.storeAhead(l.dir) // the store lost the blob the entry knew
				}
			}
			return outs, nil
		}
	}
	var outs []*fsState
	var err error
	switch o := op.Op.(type) {
	case *pb.Op_Exec:
		outs, err = b.exec(ctx, o.Exec, inputs, name)
	case *pb.Op_File:
		outs, err = b.file(ctx, o.File, inputs, name)
	}
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	for _, st := range outs {
		if n := len(st.layers); n > 0 && st.plain == "" {
			st.layers[n-1].created = now
		}
	}
	if keyed {
		kept, err := b.keep(key, outs, inputs, now)
		if err != nil {
			return nil, err
		}
		if kept {
			for i, st := range outs {
				st.key = outputKey(key, i)
			}
		}
	}
	for _, st := range outs {
		if n := len(st.layers); n > 0 && st.plain == "" && b.final[d] {
			b.storeAhead(st.layers[n-1].dir) // where keep put it
		}
	}
	return outs, nil
}

// cacheKey is the step cache key of operation op on inputs; false when
// an input has none.
func (b *builder) cacheKey(op *pb.Op, inputs []*fsState) (digest.Digest, bool) {
	parts := make([]string, len(inputs))
	for i, st := range inputs {
		switch {
		case st.plain != "":
			if st.ctx == nil {
				return "", false
			}
			parts[i] = contextReads(st.ctx, op, i)
		case st.key == "":
			return "", false
		default:
			parts[i] = st.key
		}
	}
	// the op's own encoding, less its inputs' digests: the keys above
	// stand for them, and a local source's digest changes with every
	// build (local.unique)
	own := op.CloneVT()
	for _, in := range own.Inputs {
		in.Digest = ""
	}
	dt, err := own.MarshalVT()
	if err != nil {
		return "", false
	}
	return stepKey(digest.FromBytes(dt), parts), true
}

// contextReads names what operation op reads of the build context c, its
// input i: for a file operation, the files its copies name (after
// .dockerignore); for anything else, the whole context.
func contextReads(c *buildContext, op *pb.Op, i int) string {
	f, ok := op.Op.(*pb.Op_File)
	if !ok {
		return "context " + c.all.String()
	}
	var reads []string
	for _, a := range f.File.Actions {
		if a.Input == int64(i) {
			return "context " + c.all.String()
		}
		if cp, ok := a.Action.(*pb.FileAction_Copy); ok && a.SecondaryInput == int64(i) {
			reads = append(reads, c.digestOf(cp.Copy.Src).String())
		}
	}
	return "context reads " + strings.Join(reads, ",")
}

// noCache says whether the operation is to run whatever the cache holds.
func (b *builder) noCache(d digest.Digest, name string) bool {
	if b.o.NoCache || b.meta[d].GetIgnoreCache() {
		return true
	}
	if len(b.o.NoCacheFilter) == 0 {
		return false
	}
	stage, ok := stageOf(name)
	if !ok {
		return false
	}
	if stage == "" {
		stage = b.onlyStage
	}
	for _, f := range b.o.NoCacheFilter {
		if stage != "" && strings.EqualFold(f, stage) {
			return true
		}
	}
	return false
}

// onlyStage is the name of the Dockerfile's stage when it has one, named
// ("FROM x AS name"); "" otherwise.
func onlyStage(dockerfile []byte) string {
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return ""
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil || len(stages) != 1 {
		return ""
	}
	return stages[0].Name
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
	st, err := b.layered(ctx, st) // a target FROM a directory context
	if err != nil {
		return v1.Hash{}, err
	}
	step := b.progress.start("exporting to image")
	var cf v1.ConfigFile
	if err := json.Unmarshal(config, &cf); err != nil {
		return v1.Hash{}, fmt.Errorf("reading the image config the frontend made: %w", err)
	}
	// each layer a step made is stored here (a cached step's only when
	// the store lost the blob its entry remembers), and its snapshot
	// made by linking its files, not by unpacking the blob again
	descs := make([]v1.Descriptor, len(st.layers))
	diffIDs := make([]v1.Hash, len(st.layers))
	times := make([]time.Time, len(st.layers))
	stored := make([]bool, len(st.layers))
	for i, l := range st.layers {
		times[i] = l.created
		if l.desc != nil {
			descs[i], diffIDs[i] = *l.desc, l.diffID
			continue
		}
		b.storeAhead(l.dir)
		lb := b.blobs[l.dir]
		<-lb.done
		if lb.err != nil {
			step.fail(lb.err)
			return v1.Hash{}, lb.err
		}
		descs[i], diffIDs[i], stored[i] = lb.desc, lb.diffID, true
	}
	for i, chain := range image.ChainIDs(diffIDs) {
		if l := st.layers[i]; l.dir != b.snaps.Path(chain) {
			// failing, the snapshot is unpacked from the blob instead
			b.snaps.Adopt(ctx, chain, l.dir)
		}
	}
	cf.RootFS = v1.RootFS{Type: "layers", DiffIDs: diffIDs}
	cf.History = normalizeHistory(cf.History, times, b.layerDescriptions(st.layers), time.Now().UTC())
	// the image is as old as its newest history entry, so that a rebuild
	// from the cache makes the same image, as BuildKit's does
	cf.Created = v1.Time{}
	for _, h := range cf.History {
		cf.Created = h.Created
	}
	var extra map[string]any
	if b.o.InlineCache || inlineCacheArg(b.o.BuildArgs) {
		extra = inlineCache(st.layers)
	}
	id, err := image.Assemble(ctx, b.store, b.snaps, cf, extra, descs, nil, names)
	if err != nil {
		step.fail(err)
		return v1.Hash{}, err
	}
	remember(st.layers, stored, descs, diffIDs)
	step.log("writing image " + id.String())
	for _, n := range names {
		step.log("naming to " + n)
	}
	step.done()
	return id, nil
}

// normalizeHistory matches history to the layers, made at times (zero:
// unknown) by what descs say, as BuildKit's exporter does: entries for
// layers that are not there become empty ones from the bottom, layers
// without an entry get one (named by the description of the layer of
// the same rank, as BuildKit's), an entry with a layer and no time gets
// its layer's, and the others without a time the time of the first new
// layer or of the entry before them.
func normalizeHistory(history []v1.History, times []time.Time, descs []string, now time.Time) []v1.History {
	layers := len(times)
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
		by := "berth build"
		if withLayer < len(descs) && descs[withLayer] != "" {
			by = descs[withLayer]
		}
		history = append(history, v1.History{CreatedBy: by, Comment: "buildkit.exporter.image.v0"})
	}
	var n int
	for i := range history {
		if history[i].EmptyLayer {
			continue
		}
		if history[i].Created.IsZero() && n < len(times) {
			history[i].Created = v1.Time{Time: times[n]}
		}
		n++
	}
	var created v1.Time
	var missing bool
	for _, h := range history {
		if !h.Created.IsZero() {
			created = h.Created
			if missing {
				break
			}
		} else {
			missing = true
		}
	}
	if created.IsZero() {
		created = v1.Time{Time: now}
	}
	missing = false
	for i := range history {
		if !history[i].Created.IsZero() {
			if missing {
				created = history[i].Created
			}
		} else {
			missing = true
			history[i].Created = created
		}
	}
	return history
}
