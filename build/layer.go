package build

import (
	"context"
	"io"

	"github.com/berth-dev/berth/tarfs"
)

// layerWriter writes a step's upper directory as an OCI layer: overlay
// whiteouts become .wh. entries, opaque directories .wh..wh..opq.
func layerWriter(ctx context.Context, upper string) func(io.Writer) error {
	return func(w io.Writer) error {
		return tarfs.WriteWith(ctx, upper, "", w, tarfs.WriteOptions{Overlay: true})
	}
}
