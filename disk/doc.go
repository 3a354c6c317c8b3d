// Package disk writes berth's state files safely: atomically (a reader sees
// the old file or the new one, never half, and a crash leaves one of them)
// and under flock(2) locks shared between goroutines and processes.
//
// [WriteFile] writes to a temporary name in the same directory, syncs it,
// renames it over the target and syncs the directory. [Lock] takes an
// exclusive or shared flock, polled with a short back-off so that a
// cancelled context stops a command waiting for it. flock rather than
// fcntl: its locks belong to the open file, so two goroutines of one
// process exclude each other as two processes do. Every package that
// keeps state on disk (image, volumes, netns, dns, the container store,
// the engine's project state) goes through these.
//
// [Size] and [Usage] measure what that state takes, for system df.
package disk
