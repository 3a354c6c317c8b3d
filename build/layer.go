package build

import (
	"context"
	"io"

	"github.com/berth-dev/berth/tarfs"
)

// layerWriter writes a step's upper directory as an OCI layer: overlay
// whiteouts become .wh. entries, opaque directories .wh..wh..opq. Of
// the extended attributes only security.capability is kept, as in
// BuildKit's layers (containerd's archive writer keeps that one only).
// Of the times only the modification time is written, as containerd's
// writer does: a layer written again from the step cache (its files read
// and linked since, their atime and ctime moved) is the same blob, and a
// cached rebuild the same image.
func layerWriter(ctx context.Context, upper string) func(io.Writer) error {
	return func(w io.Writer) error {
		return tarfs.WriteWith(ctx, upper, "", w, tarfs.WriteOptions{Overlay: true, Xattr: layerXattr, ModTimeOnly: true})
	}
}

func layerXattr(name string) bool { return name == "security.capability" }
