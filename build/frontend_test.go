package build

import "github.com/berth-dev/berth/build/frontend"

// this package's tests run the Dockerfile frontend in process, not as
// berth-build (which the integration tests run)
func init() { runFrontend = frontend.Convert }
