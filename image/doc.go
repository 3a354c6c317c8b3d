// Package image keeps container images: a content store under <root>/images,
// registry pull and push, layer snapshots under <root>/snapshots, and image
// archives (docker save/load, OCI).
//
// Vocabulary:
//
//   - A blob is content named by its digest (sha256:...). The store writes a
//     blob only after checking its digest and size, under a temporary name that
//     is then renamed, so a crash leaves no corrupt blob; a blob shared by
//     several images is stored once.
//   - A reference is a normalized image name, docker.io/library/busybox:latest,
//     that points at a manifest blob. References live in the store's
//     index.json (OCI layout), written atomically. A reference is written only
//     after every blob it needs, so none ever points at a missing blob.
//   - An image's ID is its config digest, as in Docker.
//   - A snapshot is one layer unpacked into a directory in overlayfs form
//     (whiteouts as 0/0 character devices, opaque directories marked with the
//     trusted.overlay.opaque xattr), keyed by the layer's chain ID. The package
//     never mounts: [Snapshots.Lowers] returns the directories that form an
//     image's rootfs, for the runtime to mount.
//
// Concurrency: any number of processes may use one store. A pull holds the
// store's shared lock while it works and each blob's own lock while writing it,
// so two pulls of one image fetch each blob once; garbage collection (rm, prune)
// holds the exclusive lock, so it never deletes a blob a pull is about to
// reference.
//
// Registries are reached through go-containerregistry, with credentials from
// ~/.docker/config.json (or $DOCKER_CONFIG), helpers included.
package image
