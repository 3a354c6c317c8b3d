package mount

import "os"

// Spec is one mount a container asks for: -v, --mount, or compose's volumes.
type Spec struct {
	// Type is volume, bind or tmpfs.
	Type string
	// Source is the volume's name ("" for anonymous) or the host path.
	Source string
	// Target is where it appears in the container; absolute.
	Target   string
	ReadOnly bool
	// NoCopy skips copying the image's files into an empty volume.
	NoCopy bool
	// Propagation is a bind's mount propagation (rprivate by default).
	Propagation string
	// Subpath mounts a directory inside the volume.
	Subpath string
	// CreateHostPath makes a missing bind source a directory, as -v does.
	CreateHostPath bool
	TmpfsSize      int64
	TmpfsMode      os.FileMode
	// Anonymous: Source is a name made ahead (NewName) for an anonymous
	// volume, so that the caller can record it before it exists.
	Anonymous bool
}
