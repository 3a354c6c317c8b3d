// Package tarfs moves file trees in and out of tar streams: [Extract] writes
// a stream into a directory, [Write] archives a tree. Both keep owners,
// modes, times, hard and symbolic links, device nodes and extended
// attributes. Image layers, import, load, cp, commit and volume copy-up go
// through it.
//
// Extract never writes outside its directory: entry names are cleaned, a
// name that climbs out is refused, and parent directories are resolved
// inside the directory, symlinks included, so a link planted by an earlier
// entry cannot redirect a later one. [ExtractIn], [WriteIn], StatIn,
// MkdirIn and RemoveIn do the same inside a root whose files may change
// meanwhile (a running container's): every step goes through descriptors,
// each directory resolved inside the root at the moment of use (openat2's
// RESOLVE_IN_ROOT where the kernel has it), because a path resolved once
// and walked again by name can meet a symlink swapped in between and lead
// onto the host's files (the CVE-2018-15664 class; root.go says more).
//
// Overlay form: with Options.Overlay, whiteout entries become what
// overlayfs understands (0/0 character devices, and the
// trusted.overlay.opaque xattr for opaque directories), for image layers;
// with WriteOptions.Overlay a tree is read as an overlayfs upper directory
// and those become whiteout entries again, for commit.
package tarfs
