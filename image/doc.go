// Package image keeps container images: a content store under <root>/images,
// registry pull and push, layer snapshots under <root>/snapshots, and image
// archives (docker save/load, OCI), import, and the listing commands (ls,
// rm, tag, inspect, history, prune).
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
//     image's rootfs, top layer first, for the runtime to mount.
//   - A [Source] is the store and its snapshots as the container package
//     uses them (its Images interface): that package names no type of this
//     one, so that the programs built on it without pulling, such as each
//     container's monitor, do not link the registry client.
//
// # Store
//
// <root>/images is an OCI image layout. Blobs go through [Store.Ingest]:
// under the blob's own flock (ingest/<hex>.lock), the source is opened only
// if the blob is still missing, so a second pull of a layer neither
// downloads nor even requests it; the data is written to ingest/, checked
// against digest and size, synced and renamed into blobs/sha256. index.json
// holds the references (org.opencontainers.image.ref.name is the full name),
// rewritten atomically under index.lock.
//
// # Locks and collection
//
// gc.lock is held shared by everything that adds content (pull, load,
// import, unpacking) and exclusive by collection ([Collect], behind rm and
// prune), so collection never removes a blob or snapshot that a pull is
// about to name; under the exclusive lock it also clears leftover lock and
// temporary files. Locks are package disk's flocks, polled with a short
// back-off so that a cancelled context stops a waiting command. Snapshots
// are not reference-counted: collection keeps the chains of the images that
// remain and those containers stand on (the keep callback), which cannot
// drift the way counters can; when the callback fails, no snapshot goes.
//
// # Snapshots
//
// <root>/snapshots/<chain-id>/fs holds one layer's own files. A layer is
// unpacked (package tarfs, overlay form) into a temporary directory and
// renamed, so a snapshot is there whole or not at all. Entry names are
// cleaned and parents resolved inside the snapshot, so neither ../ nor a
// planted symlink writes outside; owners, modes (setuid included, set after
// chown), times, xattrs, hard links and device nodes are kept; gzip and
// zstd are recognised by magic number, since media types are not always
// right; the uncompressed stream is checked against the config's diff ID.
//
// # Registries
//
// Pull and push go through go-containerregistry, with credentials from the
// Docker config file (~/.docker/config.json or $DOCKER_CONFIG, credential
// helpers included), its retries of transient errors, and plain HTTP for
// loopback registries and those in BERTH_INSECURE_REGISTRIES or
// /etc/docker/daemon.json's insecure-registries. An index resolves to the
// host's platform or --platform. Three layers transfer at once, as in
// Docker. Errors use Docker's words ("pull access denied for x", "manifest
// for x not found").
//
// # Archives and import
//
// save writes what `docker save` writes since Docker 25: an OCI layout plus
// a manifest.json naming the same blobs, so that docker load, berth and OCI
// tools all read it (Docker's save has no format flag; neither has berth's).
// load reads either Docker era's archive or an OCI archive, verifying every
// blob and refusing names that leave the archive. import makes a one-layer
// image from a tarball (plain, gzip or zstd) or a directory and applies
// --change instructions; [Commit] (container commit) adds a layer to a
// base image the same way.
//
// Any number of processes may use one store at once.
package image
