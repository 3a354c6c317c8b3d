// Package mount is a mount as a container asks for it (-v, --mount,
// compose's volumes): the data alone, so that the options of a run (package
// api) can carry it without linking the volume store. Package volumes
// parses and describes it.
package mount
