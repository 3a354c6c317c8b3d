package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerui"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	fstypes "github.com/tonistiigi/fsutil/types"

	"github.com/berth-dev/berth/errclass"
)

// Named build contexts (docker buildx's --build-context NAME=VALUE,
// compose's build.additional_contexts): BuildKit's Dockerfile frontend
// takes a context named NAME for FROM NAME, COPY --from=NAME and RUN
// --mount=from=NAME, ahead of a stage or an image of that name. It reads
// them from its dockerui client's options (context:NAME), which berth
// gives it through a gateway client of its own (gateway below): a
// directory becomes a local source of its own, walked as the main
// context is (with the .dockerignore of that directory, as dockerui
// reads it), an image (docker-image://REF) an image source.

// localPrefix names the local sources of directory contexts, apart from
// the frontend's own (context, dockerfile).
const localPrefix = "named-context/"

// ParseContexts reads --build-context flags, NAME=VALUE each.
func ParseContexts(list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return nil, errclass.New(ErrInvalid, "invalid context value %q: want NAME=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

// namedContexts are a build's named contexts, checked.
type namedContexts struct {
	// opts are the frontend options that name them: context:NAME is
	// local:LOCALNAME or docker-image://REF.
	opts map[string]string
	// dirs are the directories of the local ones, by local name.
	dirs map[string]string
}

// CheckContexts checks named contexts as a build does (checkContexts),
// for a caller that checks its builds' settings before it builds.
func CheckContexts(contexts map[string]string) error {
	_, err := checkContexts(contexts)
	return err
}

// checkContexts checks each named context: its name as the frontend
// normalises it, and its value: an existing directory (relative to the
// working directory) or docker-image://REF. What berth's builder cannot
// take (a bake target, an OCI layout, a URL, a git repository) is
// refused, naming it.
func checkContexts(contexts map[string]string) (*namedContexts, error) {
	if len(contexts) == 0 {
		return nil, nil
	}
	nc := &namedContexts{opts: map[string]string{}, dirs: map[string]string{}}
	for _, k := range slices.Sorted(maps.Keys(contexts)) {
		v := contexts[k]
		bad := func(class error, format string, args ...any) error {
			return errclass.New(class, "build context %s=%s: "+format, append([]any{k, v}, args...)...)
		}
		named, err := reference.ParseNormalizedNamed(k)
		if err != nil {
			return nil, bad(ErrInvalid, "invalid context name: %v", err)
		}
		name := strings.TrimSuffix(reference.FamiliarString(named), ":latest")
		if _, ok := nc.opts["context:"+name]; ok {
			return nil, bad(ErrInvalid, "context %s is given twice", name)
		}
		switch {
		case strings.HasPrefix(v, "docker-image://"):
			ref := strings.TrimPrefix(v, "docker-image://")
			if _, err := reference.ParseNormalizedNamed(ref); err != nil {
				return nil, bad(ErrInvalid, "invalid image reference: %v", err)
			}
			nc.opts["context:"+name] = v
			continue
		case strings.HasPrefix(v, "target:"):
			return nil, bad(ErrUnsupported, "a bake target is not supported by berth's builder")
		case strings.HasPrefix(v, "service:"):
			return nil, bad(ErrUnsupported, "service: names a compose service, which only compose's build.additional_contexts can")
		case strings.HasPrefix(v, "oci-layout://"):
			return nil, bad(ErrUnsupported, "an OCI layout context is not supported by berth's builder yet")
		case remoteContext(v):
			return nil, bad(ErrUnsupported, "a remote context (a URL or a git repository) is not supported by berth's builder yet: give a directory or docker-image://")
		}
		dir, err := filepath.Abs(v)
		if err != nil {
			return nil, bad(ErrInvalid, "%v", err)
		}
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, bad(ErrInvalid, "no such directory")
		case err != nil:
			return nil, bad(ErrInvalid, "%v", err)
		case !fi.IsDir():
			return nil, bad(ErrInvalid, "not a directory")
		}
		local := localPrefix + name
		nc.opts["context:"+name] = "local:" + local
		nc.dirs[local] = dir
	}
	return nc, nil
}

// remoteContext says whether v is a URL or a git reference, as compose
// and dockerui tell one from a path.
func remoteContext(v string) bool {
	if strings.Contains(v, "://") {
		return true
	}
	for _, p := range []string{"github.com/", "git@"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// gateway is the little of BuildKit's gateway client that the Dockerfile
// frontend's dockerui client uses when the build has named contexts:
// the options naming them, the image configs (from berth's store), and
// the .dockerignore files of the local contexts, which it reads by
// solving a local source of that one file.
type gateway struct {
	opts     map[string]string
	resolve  resolver
	platform ocispecs.Platform
	// ignore is the .dockerignore's content a local source gives, by
	// local name; nil: it has none
	ignore func(local string) ([]byte, error)
}

func (g *gateway) BuildOpts() gwclient.BuildOpts {
	return gwclient.BuildOpts{
		Opts:    g.opts,
		LLBCaps: llbCaps,
		// no gateway capabilities: dockerui then takes the main context
		// as a local source, not as a frontend input
		Caps:    gwpb.Caps.CapSet(nil),
		Workers: []gwclient.WorkerInfo{{ID: "berth", Platforms: []ocispecs.Platform{g.platform}}},
		Product: "berth",
	}
}

func (g *gateway) ResolveImageConfig(ctx context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	dgst, cfg, err := g.resolve(ctx, ref)
	return ref, dgst, cfg, err
}

func (g *gateway) ResolveSourceMetadata(_ context.Context, op *pb.SourceOp, _ sourceresolver.Opt) (*sourceresolver.MetaResponse, error) {
	return nil, errclass.New(ErrUnsupported, "resolving source %s is not supported by berth's builder yet", op.GetIdentifier())
}

// Solve solves the one kind of graph dockerui asks for: a local source,
// for its .dockerignore.
func (g *gateway) Solve(_ context.Context, req gwclient.SolveRequest) (*gwclient.Result, error) {
	var local string
	for _, dt := range req.Definition.GetDef() {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, fmt.Errorf("reading the frontend's request: %w", err)
		}
		if src := op.GetSource(); src != nil {
			id, ok := strings.CutPrefix(src.Identifier, "local://")
			if !ok {
				return nil, errclass.New(ErrUnsupported, "the frontend asks for source %s, which berth's builder does not solve apart", src.Identifier)
			}
			local = id
		}
	}
	data, err := g.ignore(local)
	if err != nil {
		return nil, err
	}
	res := gwclient.NewResult()
	res.SetRef(&ignoreRef{data: data})
	return res, nil
}

func (g *gateway) Inputs(context.Context) (map[string]llb.State, error) { return nil, nil }

func (g *gateway) NewContainer(context.Context, gwclient.NewContainerRequest) (gwclient.Container, error) {
	return nil, errclass.New(ErrUnsupported, "containers for the frontend are not supported by berth's builder")
}

func (g *gateway) Warn(context.Context, digest.Digest, string, gwclient.WarnOpts) error { return nil }

// ignoreRef is a solved local source that holds its .dockerignore only.
type ignoreRef struct{ data []byte }

func (r *ignoreRef) ToState() (llb.State, error)    { return llb.Scratch(), nil }
func (r *ignoreRef) Evaluate(context.Context) error { return nil }

func (r *ignoreRef) ReadFile(_ context.Context, req gwclient.ReadRequest) ([]byte, error) {
	if req.Filename != dockerui.DefaultDockerignoreName || r.data == nil {
		return nil, &fs.PathError{Op: "open", Path: req.Filename, Err: fs.ErrNotExist}
	}
	return r.data, nil
}

func (r *ignoreRef) StatFile(_ context.Context, req gwclient.StatRequest) (*fstypes.Stat, error) {
	if req.Path != dockerui.DefaultDockerignoreName || r.data == nil {
		return nil, &fs.PathError{Op: "stat", Path: req.Path, Err: fs.ErrNotExist}
	}
	return &fstypes.Stat{Path: req.Path, Mode: 0o644, Size: int64(len(r.data))}, nil
}

func (r *ignoreRef) ReadDir(context.Context, gwclient.ReadDirRequest) ([]*fstypes.Stat, error) {
	return nil, nil
}

// readOptional is the file's content; nil when it is not there.
func readOptional(p string) ([]byte, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", p, err)
	}
	return data, nil
}

// ignoreOf is the .dockerignore the frontend reads of the local source
// named local: for the main context, the one berth applies to it
// (perhaps <Dockerfile>.dockerignore); for a named one, its directory's.
func (b *builder) ignoreOf(local string) ([]byte, error) {
	if local == dockerui.DefaultLocalNameContext {
		return readOptional(ignoreFile(b.o))
	}
	dir, ok := b.named.dirs[local]
	if !ok {
		return nil, nil
	}
	return readOptional(filepath.Join(dir, dockerui.DefaultDockerignoreName))
}

// localContext walks the named directory context local names, once per
// build, and makes the view of it the steps read (less what its
// .dockerignore takes).
func (b *builder) localContext(local string) (*fsState, error) {
	if st, ok := b.locals[local]; ok {
		return st, nil
	}
	dir, ok := b.named.dirs[local]
	if !ok {
		return nil, errclass.New(ErrInvalid, "the build graph names a local source %q the build was not given", local)
	}
	patterns, err := readIgnore(filepath.Join(dir, dockerui.DefaultDockerignoreName))
	if err != nil {
		return nil, err
	}
	// apart from the main context's digests, whose patterns may differ
	sum := sha256.Sum256([]byte("named\x00" + dir))
	stats := filepath.Join(cacheDir(b.o.Root), "context", hex.EncodeToString(sum[:12])+".json")
	bctx, err := walkContext(dir, patterns, stats)
	if err != nil {
		return nil, err
	}
	layer, err := b.newDir("ignored")
	if err != nil {
		return nil, err
	}
	target, err := b.newDir("named-context")
	if err != nil {
		return nil, err
	}
	view, err := bctx.view(layer, target)
	if err != nil {
		return nil, err
	}
	st := &fsState{plain: view, ctx: bctx}
	b.locals[local] = st
	return st, nil
}

// standOn makes each input of op that op writes on (an exec's root
// filesystem, a file action's destination) a layered state: a directory
// (a named context a stage is FROM) becomes one layer of its files.
func (b *builder) standOn(ctx context.Context, op *pb.Op, inputs []*fsState) error {
	writes := map[int64]bool{}
	switch o := op.Op.(type) {
	case *pb.Op_Exec:
		for _, m := range o.Exec.Mounts {
			if m.Dest == pb.RootMount {
				writes[m.Input] = true
			}
		}
	case *pb.Op_File:
		for _, a := range o.File.Actions {
			writes[a.Input] = true
		}
	}
	for i, st := range inputs {
		if st.plain == "" || !writes[int64(i)] {
			continue
		}
		l, err := b.layered(ctx, st)
		if err != nil {
			return err
		}
		inputs[i] = l
	}
	return nil
}

// layered is st as a stack of layers: a directory (a named context used
// as a stage's root, FROM NAME) becomes one layer holding its files,
// root's, as BuildKit's local source gives them (its client resets
// every owner to 0:0); kept in the step cache under the digest of the
// files, so that an unchanged directory gives the same layer.
func (b *builder) layered(ctx context.Context, st *fsState) (*fsState, error) {
	if st.plain == "" {
		return st, nil
	}
	if l, ok := b.layers[st.plain]; ok {
		return l, nil
	}
	if st.ctx == nil {
		return nil, errclass.New(ErrUnsupported, "a stage on the build context itself is not supported by berth's builder")
	}
	key := stepKey(digest.FromString("berth: a directory as a layer"), []string{"context " + st.ctx.all.String()})
	desc := "local source for " + dockerui.DefaultLocalNameContext
	for local, l := range b.locals {
		if l == st {
			desc = "local source for " + strings.TrimPrefix(local, localPrefix)
		}
	}
	if outs := b.lookup(key, nil); outs != nil {
		outs[0].key = outputKey(key, 0)
		b.layers[st.plain] = outs[0]
		b.descs[outs[0].layers[0].dir] = desc
		return outs[0], nil
	}
	upper, err := b.newDir("upper")
	if err != nil {
		return nil, err
	}
	cp := &pb.FileActionCopy{Src: "/", Dest: "/", DirCopyContents: true, CreateDestPath: true, Mode: -1, Timestamp: -1}
	if err := docopy(ctx, st.plain, upper, cp, nil, true); err != nil {
		return nil, fmt.Errorf("making a layer of the context %s: %w", st.ctx.dir, err)
	}
	out := with(&fsState{}, upper)
	now := time.Now().UTC()
	out.layers[0].created = now
	kept, err := b.keep(key, []*fsState{out}, nil, now)
	if err != nil {
		return nil, err
	}
	if kept {
		out.key = outputKey(key, 0)
	}
	b.layers[st.plain] = out
	b.descs[out.layers[0].dir] = desc
	return out, nil
}

// dockerui gives the frontend a dockerui client with the build's
// named contexts; nil when it has none.
func (b *builder) dockerui(resolve resolver, platform ocispecs.Platform) (*dockerui.Client, error) {
	if b.named == nil {
		return nil, nil
	}
	// the client writes into its options
	c, err := dockerui.NewClient(&gateway{opts: maps.Clone(b.named.opts), resolve: resolve, platform: platform, ignore: b.ignoreOf})
	if err != nil {
		return nil, fmt.Errorf("setting up the Dockerfile frontend: %w", err)
	}
	return c, nil
}
