package build

import (
	"context"

	"github.com/berth-dev/berth/build/frontend"
	"github.com/berth-dev/berth/build/frontend/wire"
)

// this package's tests run the Dockerfile frontend in process, not as
// berth-build (which the integration tests run)
func init() { runFrontend = frontend.Convert }

// convert runs the frontend on a Dockerfile alone, with no build cache
// (and so no memo), for the tests of what it makes.
func convert(ctx context.Context, dockerfile []byte, args map[string]string, target string, labels map[string]string, resolve resolver) (*plan, error) {
	return convertRequest(ctx, "", &wire.Request{Dockerfile: dockerfile, Args: args, Target: target, Labels: labels}, resolve)
}
