// Package build builds images from Dockerfiles, daemonless, in berth's own
// runtime (issue 16).
//
// The Dockerfile is read by BuildKit's own frontend
// (github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb, pinned in
// go.mod), so that its semantics are BuildKit's exactly: parsing and line
// numbers in errors, ARG scoping, stage pruning for a target, the image
// config and history. The frontend turns the Dockerfile, the build args and
// the target into LLB, BuildKit's operation graph, plus the target's image
// config; berth executes the graph itself.
//
// The frontend is a program of its own, berth-build (cmd/berth-build,
// package build/frontend), beside berth: linked into berth, it and what it
// drags in (grpc, OpenTelemetry, x/crypto/ssh, html/template, protobuf
// descriptors) made the binary 10 MB larger (46 MB; 36 MB without) and
// every berth command about 3 ms slower to start (docs/benchmarks.md). berth writes it the request (package
// build/frontend/wire: the Dockerfile, args, target, labels, run options,
// named contexts and the paths of the .dockerignore files it may read) and
// reads back the marshalled definition and config, or the frontend's
// refusal word for word (of class ErrUnsupported when it was). The image
// configs the frontend asks for while converting are a callback: berth-build
// asks on its stdout, berth answers on its stdin with the config of the
// image from its store, pulled when missing (with the build's progress
// lines), so that the frontend and the steps see the same base images, a
// base is pulled once even with AlwaysPull, and berth-build links neither
// the image store nor the registry client. The child is killed when the
// build's context ends; without berth-build beside berth a build fails
// with an error naming it. This package's tests run the frontend in
// process (runFrontend).
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
//   - named contexts (named.go; Options.Contexts, --build-context,
//     compose's additional_contexts): the frontend takes a context
//     named NAME for FROM NAME, COPY --from=NAME and RUN
//     --mount=from=NAME, ahead of a stage or an image of that name. It
//     reads them from its dockerui client, which berth-build gives it
//     with a gateway client of its own: the options naming them, the
//     image configs, and the .dockerignore files, the one thing dockerui
//     solves itself. A directory becomes a local source of its own
//     (local://named-context/NAME), walked as the main context is, less
//     what its own .dockerignore takes (dockerui reads that one, never
//     <Dockerfile>.dockerignore), with a digest cache of its own; a
//     stage FROM it stands on one layer of its files, root's, as
//     BuildKit's local source gives them, kept in the step cache under
//     their digests (a layer the frontend's history has no entry for
//     gets one named as BuildKit's exporter names it, by what made the
//     layer of its rank: "local source for NAME", "mount / from exec
//     ..."). docker-image://REF is an image source, from the
//     store or pulled, as FROM's. A bake target (target:), an OCI layout,
//     a URL and a git repository are refused before anything is made,
//     naming the context and its value.
//   - exec (RUN, shell and exec form): the command in berth's runtime
//     (package runtime, the only importer of libcontainer) with Docker's
//     default confinement (its capabilities, seccomp profile, masked
//     paths), hostname buildkitsandbox, on an overlay whose lower layers
//     are the parent state's and whose upper directory becomes the new
//     layer. As BuildKit's executor: the user is resolved from the
//     /etc/passwd and /etc/group the overlay shows ("uid:gid" in numbers
//     without them), its primary group among its groups; the environment
//     gets the proxy build args (HTTP_PROXY, ...) and a default PATH; a
//     working directory that is gone is made again, owned by the user;
//     stdin is an empty pipe.
//     RUN --security=insecure runs privileged, only when the build has the
//     security.insecure entitlement (--allow; compose's build.privileged);
//     without it the step is refused, as BuildKit refuses it.
//   - The step's network (network.go): by default berth's default bridge
//     network, joined as a container that names no network joins it (a
//     namespace made ahead of the step in its directory, an address from
//     the network's IPAM owned by the step's container ID, a veth, the
//     gateway as the default route, NAT out through the network's
//     firewall rules); none is loopback only; host is the host's, which
//     RUN --network=host may ask for only with the network.host
//     entitlement (a build whose --network is host has it). The build's
//     network, extra hosts, /dev/shm size and ulimits go to the frontend,
//     which writes them into each RUN of the LLB, as BuildKit's does.
//     /etc/hosts (localhost and the hostname, then the extra hosts) and
//     /etc/resolv.conf (the host's, loopback nameservers dropped unless
//     on the host's network, systemd-resolved's own file when the host's
//     names only its stub, BuildKit's executor/oci rules) are written in
//     the step's directory and bind-mounted, never in the layer.
//   - RUN --mount (mount.go, secret.go): type=cache is a directory under
//     <root>/build-cache-mounts, one per ID (and base: the uid, gid and
//     mode the frontend turns into a scratch directory, or a from=
//     stage, whose files a new one starts with), each instance locked by
//     flock as its sharing says (shared, private: another instance when
//     busy, locked: the next step waits); PruneCacheMounts removes those
//     no build holds. type=secret is the build's secret (Options.Secrets,
//     --secret id=,src=|env=), written to a tmpfs of the step's and bound
//     read-only at its target (or set in the environment with env=),
//     never on disk nor in a layer, its command line alone in the
//     history; an optional one the build lacks is left out. type=bind is
//     a path of the context (bound read-only as it is) or of another
//     state (a read-only overlay view of its layers), and with rw a
//     throwaway overlay whose writes no one sees. type=tmpfs is a tmpfs
//     (at /dev/shm, the --shm-size). The mount points made where the
//     parent lacked them (/etc/hosts, /etc/resolv.conf, the mounts'
//     targets and the directories made for them) are removed from the
//     upper directory when still empty, as BuildKit removes its stubs;
//     the directories the runtime mounts over (/proc, /dev, /sys) stay in
//     the layer, as they stay in BuildKit's.
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
// operations, nested builds, RUN --mount=type=ssh, RUN --device,
// RUN --network=host and --security=insecure without their entitlements,
// a build network other than default, none or host, ADD of an xz
// archive, ADD and contexts from git, a URL needing a secret or a
// signature, named contexts other than directories and images. A Dockerfile the
// frontend refuses is refused with its message, which names the line.
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
// Outputs (output.go, image build -o): WriteOutput writes a built image
// as docker buildx's exporters do, from the store: a Docker archive and an
// OCI layout tarball through package image's save, the root filesystem
// (a read-only overlay of the image's layers, mounted in a build
// directory of its own so that the sweep clears it after a kill) as a
// tar or into a directory. Discard then drops an image that only its ID
// names, unless a container uses it: -o without -t keeps no image.
//
// Progress (progress.go) goes to Options.Progress: BuildKit's plain lines
// on a plain writer, or, for a writer a Display made, that display's form
// (a live view on a terminal that redraws the steps, their times and a
// running step's last lines in place, cut to the terminal's width and
// height; one view per build, drawn whole when it ends; a base image's
// pull shows docker pull's lines above it), its steps named after the
// compose service the build is for. A failed step's whole output follows, then
// the Dockerfile lines it comes from (the frontend's source map), and the
// error names the line (Dockerfile:N). --pull is Options.AlwaysPull: the
// FROM images are pulled even when the store has them.
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
// the store has lost the blob, after an image rm, the layer is written
// again from the entry, the same blob: a layer's tar headers carry the
// files' modification times only, as containerd's archive writer
// writes them). A new layer's
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
//
// CacheFrom (cachefrom.go) seeds the step cache from images: one built
// with InlineCache names in its config the cache key of the step behind
// each layer, as BuildKit's inline cache does; a build given it takes a
// step its own cache lacks from the image's layer (a one-output step
// whose input has the layers below it), the layer's files linked from
// the image's snapshot into a new entry.
package build
