// Package attach is the attach point of a running container: a [Hub] that
// its monitor keeps, and [Dial], what `attach` (and `start -a`) call.
//
// The protocol: the hub listens on an abstract Unix socket named after the
// state root and the container ([Address]; abstract, so there is no file
// to clean up and no path length limit). A client reads frames of [stream
// byte][big-endian uint32 length][data]: [Stdout], [Stderr], and at the end
// [Exit], the exit code in decimal. What a client writes is raw input,
// which the hub passes to the container's stdin when it has one (-i); a
// client that ends its input does not end the container's, as Docker keeps
// stdin open for the next one.
//
// The package uses nothing but the standard library: it is part of what a
// monitor runs while it waits.
package attach
