package build

import (
	"context"
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
	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errclass"
)

// Named build contexts (docker buildx's --build-context NAME=VALUE,
// compose's build.additional_contexts): BuildKit's Dockerfile frontend
// takes a context named NAME for FROM NAME, COPY --from=NAME and RUN
// --mount=from=NAME, ahead of a stage or an image of that name. It reads
// them from its dockerui client's options (context:NAME), which berth
// gives it through a gateway client of its own (package build/frontend): a
// directory becomes a local source of its own, walked as the main
// context is (with the .dockerignore of that directory, as dockerui
// reads it), an image (docker-image://REF) an image source.

// localPrefix names the local sources of directory contexts, apart from
// the frontend's own (context, dockerfile).
const localPrefix = "named-context/"

// mainContext is the frontend's local source of the build context
// (dockerui.DefaultLocalNameContext); dockerignore the name of the file
// of patterns it reads in each context (dockerui.DefaultDockerignoreName).
const (
	mainContext  = "context"
	dockerignore = ".dockerignore"
)

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
		case RemoteContext(v):
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

// RemoteContext says whether v is a URL or a git reference, as compose
// and dockerui tell one from a path.
func RemoteContext(v string) bool {
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
	target, err := b.newDir("named-context")
	if err != nil {
		return nil, err
	}
	// its digests apart from the main context's, whose patterns may differ
	bctx, view, err := b.walkView(dir, filepath.Join(dir, dockerignore), "named\x00"+dir, target)
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
	desc := "local source for " + mainContext
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
