// Package image is the content store (an OCI layout under <root>/images),
// registry pull and push through go-containerregistry, layer snapshots for
// overlayfs, import/load/save, and later Dockerfile builds. It returns the
// mount description of an image's rootfs and never mounts anything itself.
//
// Empty until the images issue (issue 3).
package image
