// Package match resolves what a user typed for a container or a network
// (a name, a full ID or the start of an ID) to one object, with Docker's
// precedence ([One]): an exact name or ID wins, then an ID prefix that
// only one object has; a prefix that several share is ambiguous. [Label]
// reads the label filters (KEY or KEY=VALUE) every listing shares.
package match
