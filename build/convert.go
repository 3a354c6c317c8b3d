package build

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// plan is what the Dockerfile frontend makes of a Dockerfile: the LLB
// definition to execute and the image config of its target.
type plan struct {
	def    *pb.Definition
	config []byte // the target's image config (JSON, Docker's OCI form)
}

// resolver gives the frontend the config of a FROM image.
type resolver func(ctx context.Context, ref string) (digest.Digest, []byte, error)

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

// convert runs BuildKit's Dockerfile frontend in process.
func convert(ctx context.Context, dockerfile []byte, args map[string]string, target string, labels map[string]string, resolve resolver) (*plan, error) {
	return convertRun(ctx, dockerfile, args, target, labels, runConfig{}, resolve, nil)
}

// uiClient makes the frontend's dockerui client, which carries the
// named contexts (named.go); nil, or a nil client, for none.
type uiClient func(resolver, ocispecs.Platform) (*dockerui.Client, error)

// convertRun is convert with the run options the frontend puts in each
// RUN (see runConfig), and the named contexts ui gives.
func convertRun(ctx context.Context, dockerfile []byte, args map[string]string, target string, labels map[string]string, run runConfig, resolve resolver, ui uiClient) (*plan, error) {
	// the frontend resolves the stages' bases concurrently; the
	// builder's lookups and pulls are one at a time
	var mu sync.Mutex
	serial := resolver(func(ctx context.Context, ref string) (digest.Digest, []byte, error) {
		mu.Lock()
		defer mu.Unlock()
		return resolve(ctx, ref)
	})
	platform := ocispecs.Platform{OS: "linux", Architecture: goarch()}
	var client *dockerui.Client
	if ui != nil {
		var err error
		if client, err = ui(serial, platform); err != nil {
			return nil, err
		}
	}
	res, err := dockerfile2llb.Dockerfile2LLB(ctx, dockerfile, dockerfile2llb.ConvertOpt{
		Client: client,
		Config: dockerui.Config{
			BuildArgs:       args,
			Target:          target,
			Labels:          labels,
			TargetPlatforms: []ocispecs.Platform{platform},
			BuildPlatforms:  []ocispecs.Platform{platform},
			NetworkMode:     run.network,
			ExtraHosts:      run.hosts,
			ShmSize:         run.shmSize,
			Ulimits:         run.ulimits,
		},
		TargetPlatform: &platform,
		MetaResolver:   serial,
		// what BuildKit's own solver offers its frontends, so that the
		// graph is the one BuildKit would run (COPY --link is a merge
		// only when merge is offered)
		LLBCaps: &llbCaps,
		// so that a failed step can be traced to its Dockerfile lines
		SourceMap: llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", dockerfile),
	})
	if err != nil {
		return nil, err
	}
	def, err := res.State.Marshal(ctx, llb.Platform(platform))
	if err != nil {
		return nil, fmt.Errorf("marshalling the build graph: %w", err)
	}
	cfg, err := json.Marshal(res.Image)
	if err != nil {
		return nil, err
	}
	return &plan{def: def.ToPB(), config: cfg}, nil
}
