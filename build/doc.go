// Package build builds images from Dockerfiles, daemonless, in berth's own
// runtime (issue 16).
//
// The Dockerfile is read by BuildKit's own frontend, in process
// (github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb, pinned in
// go.mod), so that its semantics are BuildKit's exactly: parsing and line
// numbers in errors, ARG scoping, stage pruning for a target, the image
// config and history. The frontend turns the Dockerfile, the build args and
// the target into LLB, BuildKit's operation graph, plus the target's image
// config; berth executes the graph itself.
//
// Vocabulary:
//
//   - An operation (op) is one vertex of the LLB definition, named by the
//     digest of its encoding; its inputs are other operations' outputs. The
//     frontend names each one for humans ("[stage-1 2/4] RUN make"): that
//     is a step, and the progress lines and errors use that name.
//   - A state is what an operation produces: a filesystem, as a stack of
//     layers (bottom first) or, for the build context, a plain directory.
//   - A layer of a state is either a layer of a stored image (a snapshot of
//     package image) or the overlay upper directory of a step of this
//     build: what the step changed, in overlayfs form (whiteouts as 0/0
//     character devices, opaque directories by xattr).
//
// The operations berth executes, walking the definition from its target,
// each operation once, its inputs first:
//
//   - source docker-image://REF (FROM): the image from berth's store,
//     pulled when it is not there (package image); its layers unpacked as
//     snapshots. FROM scratch is the empty state.
//   - source local://context: the build context directory less what
//     .dockerignore takes (<Dockerfile>.dockerignore beside the
//     Dockerfile when there is one, as Docker prefers it; Docker's
//     patterns, ! exceptions included, through moby/patternmatcher). The
//     context is walked once per build, each file given a digest (read
//     only when its inode, size or times changed since a build last saw
//     it: the digests are kept in <root>/buildcache/context); when
//     something is ignored, the steps read a read-only overlay of the
//     directory under a layer of whiteouts for what is ignored.
//   - exec (RUN, shell and exec form): the command in berth's runtime
//     (package runtime, the only importer of libcontainer) with Docker's
//     default confinement, the user resolved from the state's /etc/passwd,
//     hostname buildkitsandbox, on an overlay whose lower layers are the
//     parent state's and whose upper directory becomes the new layer. The
//     mount points the runtime made (/proc, /dev, /sys, where the parent
//     lacked them) are removed from it, as BuildKit removes its stubs. The
//     step has no network (a new network namespace with loopback only).
//   - file (COPY, COPY --from, ADD of context files, WORKDIR, and what else
//     the frontend turns into file actions): copy (ADD's tar archives,
//     plain, gzip, bzip2 or zstd, extracted), mkdir, mkfile, rm and symlink actions with
//     BuildKit's semantics (its file backend, on tonistiigi/fsutil's copy),
//     each chain of actions on an overlay of its input, so that a removal
//     is a whiteout in the layer.
//
// Every exec and file operation makes one layer, an empty one included, as
// BuildKit does. The image is the target state's layers (a base image's
// stored ones, then each step's upper directory as an OCI layer), with the
// frontend's config; its history is matched to the layers as BuildKit's
// exporter matches it. It is stored, unpacked and tagged through
// image.Assemble, so that `berth run`, `berth images` and compose see it.
//
// Refused, with an error naming the step and the operation kind: merge and
// diff operations (COPY --link), nested builds, RUN --mount of any type,
// RUN --network other than the default (none here) and --security=insecure,
// secrets and devices, ADD of an xz archive, ADD and contexts from git or
// URLs, named contexts other than the main one. A Dockerfile the frontend
// refuses is refused with its message, which names the line.
//
// Failure leaves nothing: each build works in its own directory under
// <root>/build (removed at the end), a step's container is deleted whether
// it succeeds or not, nothing is written to the image store before the
// last step succeeded, and the store's shared lock is held throughout, so
// no prune removes a base image's snapshots while a step stands on them.
// A build that is killed (SIGKILL, a crash) leaves its directory, its
// mounts and perhaps a step's running container; each build holds a lock
// beside its directory, and the next build sweeps every directory whose
// lock nobody holds: it kills and deletes the steps' containers (named
// after the directory), unmounts, and only then removes the files.
//
// The step cache (<root>/buildcache, see cache.go) keeps each exec and
// file operation's result, its layers, under a key made of the
// operation's own definition (its encoding less its inputs' digests),
// the keys of the states it reads (a step's result, an image by its ID)
// and, for the build context, the digests of the files its copies name
// (after .dockerignore; a symlink on the way or any other reader takes
// the whole context). A step whose key has an entry is not run: its
// progress says CACHED, and its layers are the entry's, dated by when
// it ran; the entry also remembers the image store's blob of each layer,
// which a rebuild reuses instead of writing the layer again, so that an
// unchanged rebuild makes the same image ID, as BuildKit's does (once
// the store has lost the blob, the layer is written again from the
// entry, with other atimes and ctimes in its tar headers). A new layer's
// snapshot is made by hard-linking its files, not by unpacking its blob,
// and each layer of the target is written into the image store as soon
// as its step ends, while the next steps run.
// An entry is made in the build's directory and renamed into place once
// complete, so a killed build leaves none half made. NoCache runs every
// step, NoCacheFilter the steps of the stages it names; what they run
// goes into the cache unless an entry is there already, and then nothing
// after them is taken from the cache (what they made is this build's
// alone). The cache is apart from the image store, as BuildKit's is from
// Docker's images: image prune leaves it, builder prune (dangling:
// entries no image has a layer of; -a: all) and system prune clear it;
// builds hold its lock shared and a prune takes it exclusive.
package build
