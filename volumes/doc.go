// Package volumes manages named and anonymous volumes (local driver) and
// describes bind and tmpfs mounts. It returns mount descriptions; the runtime
// mounts them.
//
// Empty until the volumes issue (issue 6).
package volumes
