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
//   - source local://context: the build context directory, as it is
//     (.dockerignore is not applied yet).
//   - exec (RUN, shell and exec form): the command in berth's runtime
//     (package runtime, the only importer of libcontainer) with Docker's
//     default confinement, hostname buildkitsandbox, on an overlay whose
//     lower layers are the parent state's and whose upper directory
//     becomes the new layer. As BuildKit's executor: the user is resolved
//     from the /etc/passwd and /etc/group the overlay shows ("uid:gid" in
//     numbers without them), its primary group among its groups; the
//     environment gets the proxy build args (HTTP_PROXY, ...) and a
//     default PATH; a working directory that is gone is made again, owned
//     by the user; the directories the runtime mounts over (/proc, /dev,
//     /sys, where the parent lacked them) stay in the layer, and empty
//     /etc/hosts and /etc/resolv.conf stubs go. The step has no network
//     (a new network namespace with loopback only).
//   - file (COPY, COPY --from, ADD of context files, WORKDIR, and what else
//     the frontend turns into file actions): copy (ADD's tar archives,
//     plain, gzip, bzip2 or zstd, extracted, a hard link taking its own
//     entry's owner and mode), mkdir, mkfile, rm and symlink actions with
//     BuildKit's semantics (its file backend, on tonistiigi/fsutil's
//     copy), each chain of actions on an overlay of its input, so that a
//     removal is a whiteout in the layer. --chown names resolve as
//     BuildKit's do (a name the files lack is 0). Files from the build
//     context are root's unless --chown says otherwise and lose a file
//     capability, as BuildKit's file transfer makes them.
//   - merge (COPY --link: the copy is made on scratch, then merged): the
//     inputs' layers stacked, as BuildKit stacks them in its image.
//   - source http:// and https:// (ADD of a URL): the file fetched from
//     that address into a directory of its own, as BuildKit's HTTP source
//     stores it: named by the frontend (the URL path's last element), mode
//     0600 unless --chmod says otherwise, its time the Last-Modified
//     header's (else the epoch), a pinned --checksum checked; never
//     extracted.
//
// Every exec and file operation makes one layer, an empty one included, as
// BuildKit does. A layer keeps one extended attribute only,
// security.capability, as BuildKit's (containerd's archive writer) do.
// The image is the target state's layers (a base image's stored ones,
// then each step's upper directory as an OCI layer), with the frontend's
// config; its history is matched to the layers as BuildKit's exporter
// matches it. It is stored, unpacked and tagged through image.Assemble,
// so that `berth run`, `berth images` and compose see it.
//
// All this is measured: the suite in compat_test.go builds the
// Dockerfiles of testdata/compat with berth and with BuildKit itself
// (buildkitd of scripts/buildkit-ref.sh, pulling the same base from a
// registry on 127.0.0.1) and compares the images' config, history and
// files, timestamps aside. It skips when BuildKit is not built.
//
// Refused, with an error naming the step and the operation kind: diff
// operations, nested builds, RUN --mount of any type, RUN --network other
// than the default (none here) and --security=insecure, secrets and
// devices, ADD of an xz archive, ADD and contexts from git, a URL needing
// a secret or a signature, named contexts other than the main one. A
// Dockerfile the frontend refuses is refused with its message, which
// names the line.
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
// Caching (planned, not done): each operation's digest, together with the
// content of what it reads (the context files a COPY names, the parent
// state), will key its result, kept as a snapshot (chain ID of the layers
// so far) and a record beside the store, so that an unchanged step is not
// run again; --no-cache skips the lookup, and image prune / builder prune
// clear the records whose snapshots they remove. Until then every build
// runs every step, and nothing of a step outlives its build but the layers
// of the image it made.
package build
