package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/buildkit/solver/pb"

	"github.com/berth-dev/berth/build/frontend/wire"
)

// plan is what the Dockerfile frontend makes of a Dockerfile: the LLB
// definition to execute and the image config of its target.
type plan struct {
	def    *pb.Definition
	config []byte // the target's image config (JSON, Docker's OCI form)
}

// resolver gives the frontend the config of a FROM image.
type resolver = wire.Resolver

// runFrontend is the Dockerfile frontend: berth-build, beside the running
// program, so that berth does not link it (package build/frontend); this
// package's tests run it in process.
var runFrontend wire.Convert = execFrontend

// buildProgram is the frontend's program, beside berth.
const buildProgram = "berth-build"

func execFrontend(ctx context.Context, req *wire.Request, resolve wire.Resolver) (*wire.Result, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding %s: %w", buildProgram, err)
	}
	return wire.Exec(ctx, filepath.Join(filepath.Dir(self), buildProgram), req, resolve)
}

// convertRequest runs the frontend on req, for this machine's platform,
// through the memo of the build cache under root (none if empty); the
// frontend's refusal of the Dockerfile is a *wire.Error.
func convertRequest(ctx context.Context, root string, req *wire.Request, resolve resolver) (*plan, error) {
	req.OS, req.Architecture = "linux", goarch()
	run := runFrontend
	if root != "" {
		run = memoized(root, runFrontend)
	}
	res, err := run(ctx, req, resolve)
	if err != nil {
		return nil, err
	}
	var def pb.Definition
	if err := def.UnmarshalVT(res.Definition); err != nil {
		return nil, fmt.Errorf("reading the build graph of %s: %w", buildProgram, err)
	}
	return &plan{def: &def, config: res.Config}, nil
}

// request is what the frontend is asked for this build: the Dockerfile
// with the build's args, target and labels, the run options it puts in
// each RUN, and the named contexts.
func (b *builder) request(dockerfile []byte, run runConfig) *wire.Request {
	req := &wire.Request{
		Dockerfile: dockerfile, Args: b.o.BuildArgs, Target: b.o.Target, Labels: b.o.Labels,
		Network: int32(run.network), Hosts: run.hosts, ShmSize: run.shmSize, Ulimits: run.ulimits,
	}
	if b.named != nil {
		req.Contexts = b.named.opts
		// the .dockerignore files dockerui reads: for the main context,
		// the one berth applies to it (perhaps <Dockerfile>.dockerignore);
		// for a named one, its directory's
		req.Ignores = map[string]string{mainContext: ignoreFile(b.o)}
		for local, dir := range b.named.dirs {
			req.Ignores[local] = filepath.Join(dir, dockerignore)
		}
	}
	return req
}
