// Package frontend runs BuildKit's Dockerfile frontend
// (github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb) for
// package build: a Dockerfile, its build args, target and named
// contexts become the LLB definition berth executes and the target's
// image config. berth runs it as berth-build (cmd/berth-build), a
// program of its own, so that the frontend's dependencies (grpc,
// OpenTelemetry, x/crypto/ssh, html/template, ...) and their package
// initialisation are not in every berth command; package build's tests
// run it in process. It must not import package build.
package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	fstypes "github.com/tonistiigi/fsutil/types"

	"github.com/berth-dev/berth/build/frontend/wire"
	"github.com/berth-dev/berth/errclass"
)

// resolver gives the frontend the config of a FROM image.
type resolver wire.Resolver

func (r resolver) ResolveImageConfig(ctx context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	dgst, cfg, err := r(ctx, ref)
	return ref, dgst, cfg, err
}

// llbCaps are what BuildKit's own solver offers its frontends: all of
// them, merge included, so that the graph is the one BuildKit would run
// (COPY --link is a merge only when merge is offered; without the exec
// capabilities, the frontend leaves out ulimits and the shm size and
// fails on a read-write bind mount).
var llbCaps = pb.Caps.CapSet(pb.Caps.All())

// Convert runs the frontend on req; its refusal of the Dockerfile is a
// *wire.Error.
func Convert(ctx context.Context, req *wire.Request, resolve wire.Resolver) (*wire.Result, error) {
	res, err := convert(ctx, req, resolve)
	if err != nil {
		return nil, wire.Failed(err)
	}
	return res, nil
}

func convert(ctx context.Context, req *wire.Request, resolve wire.Resolver) (*wire.Result, error) {
	// the frontend resolves the stages' bases concurrently; the
	// builder's lookups and pulls are one at a time
	var mu sync.Mutex
	serial := resolver(func(ctx context.Context, ref string) (digest.Digest, []byte, error) {
		mu.Lock()
		defer mu.Unlock()
		return resolve(ctx, ref)
	})
	platform := ocispecs.Platform{OS: req.OS, Architecture: req.Architecture}
	var client *dockerui.Client
	if len(req.Contexts) > 0 {
		// the client writes into its options
		c, err := dockerui.NewClient(&gateway{opts: maps.Clone(req.Contexts), resolve: serial, platform: platform, ignores: req.Ignores})
		if err != nil {
			return nil, fmt.Errorf("setting up the Dockerfile frontend: %w", err)
		}
		client = c
	}
	var hosts []llb.HostIP
	for _, h := range req.Hosts {
		hosts = append(hosts, llb.HostIP{Host: h.Name, IP: net.ParseIP(h.IP)})
	}
	var ulimits []*pb.Ulimit
	for _, u := range req.Ulimits {
		ulimits = append(ulimits, &pb.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	res, err := dockerfile2llb.Dockerfile2LLB(ctx, req.Dockerfile, dockerfile2llb.ConvertOpt{
		Client: client,
		Config: dockerui.Config{
			BuildArgs:       req.Args,
			Target:          req.Target,
			Labels:          req.Labels,
			TargetPlatforms: []ocispecs.Platform{platform},
			BuildPlatforms:  []ocispecs.Platform{platform},
			NetworkMode:     pb.NetMode(req.Network),
			ExtraHosts:      hosts,
			ShmSize:         req.ShmSize,
			Ulimits:         ulimits,
		},
		TargetPlatform: &platform,
		MetaResolver:   serial,
		// what BuildKit's own solver offers its frontends, so that the
		// graph is the one BuildKit would run (COPY --link is a merge
		// only when merge is offered)
		LLBCaps: &llbCaps,
		// so that a failed step can be traced to its Dockerfile lines
		SourceMap: llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", req.Dockerfile),
	})
	if err != nil {
		return nil, err
	}
	def, err := res.State.Marshal(ctx, llb.Platform(platform))
	if err != nil {
		return nil, fmt.Errorf("marshalling the build graph: %w", err)
	}
	data, err := def.ToPB().MarshalVT()
	if err != nil {
		return nil, fmt.Errorf("marshalling the build graph: %w", err)
	}
	cfg, err := json.Marshal(res.Image)
	if err != nil {
		return nil, err
	}
	return &wire.Result{Definition: data, Config: cfg}, nil
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
	// ignores are the .dockerignore files of the local sources, by
	// local name
	ignores map[string]string
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

func (g *gateway) ResolveImageConfig(ctx context.Context, ref string, o sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return g.resolve.ResolveImageConfig(ctx, ref, o)
}

func (g *gateway) ResolveSourceMetadata(_ context.Context, op *pb.SourceOp, _ sourceresolver.Opt) (*sourceresolver.MetaResponse, error) {
	return nil, errclass.New(wire.ErrUnsupported, "resolving source %s is not supported by berth's builder yet", op.GetIdentifier())
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
				return nil, errclass.New(wire.ErrUnsupported, "the frontend asks for source %s, which berth's builder does not solve apart", src.Identifier)
			}
			local = id
		}
	}
	var data []byte
	if p, ok := g.ignores[local]; ok {
		var err error
		if data, err = readOptional(p); err != nil {
			return nil, err
		}
	}
	res := gwclient.NewResult()
	res.SetRef(&ignoreRef{data: data})
	return res, nil
}

func (g *gateway) Inputs(context.Context) (map[string]llb.State, error) { return nil, nil }

func (g *gateway) NewContainer(context.Context, gwclient.NewContainerRequest) (gwclient.Container, error) {
	return nil, errclass.New(wire.ErrUnsupported, "containers for the frontend are not supported by berth's builder")
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
