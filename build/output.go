package build

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/tarfs"
)

// The output types of -o/--output, docker buildx's exporters.
const (
	// OutputDocker is a Docker archive (docker load reads it); without
	// a destination, the image store alone, as buildx's --load.
	OutputDocker = "docker"
	// OutputOCI is an OCI image layout tarball.
	OutputOCI = "oci"
	// OutputTar is the image's root filesystem as a tar archive.
	OutputTar = "tar"
	// OutputLocal is the image's root filesystem in a directory.
	OutputLocal = "local"
)

// Output is where -o/--output sends the image a build made, besides the
// image store.
type Output struct {
	Type string
	// Dest is a file (a directory for local); "-" and, for oci and
	// tar, empty are standard output.
	Dest string
}

// ParseOutput reads an --output value as docker buildx does:
// type=TYPE[,dest=PATH]; a value without = is type=local,dest=PATH, and
// "-" is type=tar to standard output.
func ParseOutput(spec string) (Output, error) {
	if spec == "-" {
		return Output{Type: OutputTar, Dest: "-"}, nil
	}
	if !strings.Contains(spec, "=") {
		return Output{Type: OutputLocal, Dest: spec}, nil
	}
	var o Output
	for _, field := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return o, errclass.New(ErrInvalid, "invalid output %q: %q is not KEY=VALUE", spec, field)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		default:
			return o, errclass.New(ErrUnsupported, "output %q: the attribute %s is not supported by berth's builder yet (type and dest are)", spec, k)
		}
	}
	switch o.Type {
	case OutputDocker, OutputOCI, OutputTar:
	case OutputLocal:
		if o.Dest == "" || o.Dest == "-" {
			return o, errclass.New(ErrInvalid, "output %q: type=local needs dest=DIRECTORY", spec)
		}
	case "":
		return o, errclass.New(ErrInvalid, "output %q: no type= given (docker, oci, tar or local)", spec)
	case "image", "registry", "cacheonly":
		return o, errclass.New(ErrUnsupported, "output type %s is not supported by berth's builder yet (docker, oci, tar and local are)", o.Type)
	default:
		return o, errclass.New(ErrInvalid, "output %q: unknown type %q (docker, oci, tar or local)", spec, o.Type)
	}
	return o, nil
}

// Stdout says whether the output goes to standard output.
func (o Output) Stdout() bool {
	return o.Dest == "-" || (o.Dest == "" && (o.Type == OutputOCI || o.Type == OutputTar))
}

// Stores says whether the output is the image store alone (docker with
// no destination): the image stays there, as buildx's --load leaves it.
func (o Output) Stores() bool { return o.Type == OutputDocker && o.Dest == "" }

// WriteOutput writes the image id of root's store as o says, archives
// naming it by names (none: by its ID alone); stdout is where "-" goes.
// A file is written beside its destination and renamed into place, so a
// failure leaves no half archive under the name asked for.
func WriteOutput(ctx context.Context, root string, id v1.Hash, names []string, o Output, stdout io.Writer) error {
	if o.Stores() {
		return nil
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	store, snaps, err := image.OpenRoot(root)
	if err != nil {
		return err
	}
	// no collection removes the image's blobs or snapshots meanwhile
	release, err := store.Hold(ctx)
	if err != nil {
		return err
	}
	defer release()
	if len(names) == 0 {
		names = []string{id.String()}
	}
	var write func(io.Writer) error
	switch o.Type {
	case OutputDocker:
		write = func(w io.Writer) error { return image.Save(ctx, store, names, w) }
	case OutputOCI:
		write = func(w io.Writer) error { return image.SaveOCI(ctx, store, names, w) }
	case OutputTar, OutputLocal:
		work := filepath.Join(root, "build")
		if err := os.MkdirAll(work, 0o700); err != nil {
			return err
		}
		// the image's files, seen through a read-only overlay of its
		// layers in a build directory of its own: a kill leaves the mount
		// to the next build's sweep
		dir, done, err := workspace(work)
		if err != nil {
			return err
		}
		defer done()
		view := filepath.Join(dir, "rootfs")
		if err := mountImage(ctx, store, snaps, id, view); err != nil {
			return err
		}
		defer runtime.Unmount(view)
		if o.Type == OutputLocal {
			if err := os.MkdirAll(o.Dest, 0o755); err != nil {
				return fmt.Errorf("making the output directory %q: %w", o.Dest, err)
			}
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(tarfs.Write(ctx, view, "", pw)) }()
			err := tarfs.Extract(ctx, pr, o.Dest, tarfs.Options{})
			pr.CloseWithError(err)
			if err != nil {
				return fmt.Errorf("writing the image's files into %q: %w", o.Dest, err)
			}
			return nil
		}
		write = func(w io.Writer) error { return tarfs.Write(ctx, view, "", w) }
	}
	if o.Stdout() {
		bw := bufio.NewWriter(stdout)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	return writeFile(o.Dest, write)
}

// mountImage mounts the files of image id, read-only, at target; an
// image without layers (FROM scratch and no step) is an empty directory.
func mountImage(ctx context.Context, store *image.Store, snaps *image.Snapshots, id v1.Hash, target string) error {
	_, img, err := store.Lookup(id.String())
	if err != nil {
		return err
	}
	if err := snaps.Prepare(ctx, store, img, nil); err != nil {
		return err
	}
	lowers, err := snaps.Lowers(img)
	if err != nil {
		return err
	}
	if len(lowers) == 0 {
		empty := filepath.Join(filepath.Dir(target), "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return err
		}
		lowers = []string{empty}
	}
	return runtime.MountLowers(lowers, target)
}

// writeFile writes what write produces into the file dest, through a
// file beside it renamed into place.
func writeFile(dest string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".berth-output-*")
	if err != nil {
		return fmt.Errorf("writing the output %q: %w", dest, err)
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriter(tmp)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		return fmt.Errorf("writing the output %q: %w", dest, err)
	}
	return os.Rename(tmp.Name(), dest)
}

// Discard removes the image id a build made for its outputs alone (-o
// without -t): buildx's exporters leave nothing in Docker's image store.
// The image stays when another name holds it (an earlier build's, the
// same: only the reference by ID goes) or a container uses it (inUse);
// keep names the snapshots containers use, as image rm's collection
// keeps them.
func Discard(ctx context.Context, root string, id v1.Hash, inUse func(v1.Hash) (bool, error), keep func() (map[string]bool, error)) error {
	store, snaps, err := image.OpenRoot(root)
	if err != nil {
		return err
	}
	refs, err := store.Refs()
	if err != nil {
		return err
	}
	named, other := false, false
	for _, r := range refs {
		if r.Name == id.String() {
			named = true
			continue
		}
		// the ref's own manifest: a Lookup by name would read the refs
		// again for each
		if img, err := store.Image(r.Manifest.Digest); err == nil {
			if cfg, err := img.ConfigName(); err == nil && cfg == id {
				other = true
			}
		}
	}
	if !named {
		return nil
	}
	// with another name the image stays whatever its ID's reference does
	if inUse != nil && !other {
		if used, err := inUse(id); err != nil || used {
			return err
		}
	}
	if err := store.DeleteRef(ctx, id.String()); err != nil {
		return err
	}
	_, err = image.Collect(ctx, store, snaps, keep)
	return err
}
