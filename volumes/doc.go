// Package volumes keeps berth's volumes (Docker's local driver) and
// describes the mounts that put them, bind mounts and tmpfs into containers.
// It returns mount descriptions and never mounts into a container itself:
// the runtime does, parent before child, whatever order they were asked in.
//
// Vocabulary:
//
//   - A volume is <root>/volumes/<name>/: meta.json (driver, options, labels,
//     creation time) and _data, the directory containers see. An anonymous
//     volume has a 64-hex name ([NewName]) and the label
//     com.docker.volume.anonymous. Create and Remove work under the store's
//     lock (<root>/volumes/.lock).
//   - [Store.Describe] turns a container's -v/--mount requests ([Spec], from
//     [ParseVolumeFlag] and [ParseMountFlag]) into mount descriptions,
//     creating the volumes they name and checking (or, where asked,
//     creating) bind sources.
//   - Copy-up: the first time an empty volume is mounted over a path that
//     holds files in the image, those files (owners, modes, xattrs, links
//     kept), and the directory's own owner and mode, are copied into it, as
//     Docker does. The caller provides the image's files (a read-only view
//     of the image's layers that the runtime mounts, once per create and
//     only if a volume needs it); the copy goes to a temporary directory
//     that is renamed over the empty _data with rename(2) (Go's os.Rename
//     refuses to replace a directory), so a crash leaves the volume empty
//     (and the copy is retried) or complete, never half-copied. A volume
//     that holds anything is never copied into.
//   - A volume's data is removed only by [Store.Remove]: volume rm and
//     prune, down -v for a project's volumes, rm -v and run --rm for
//     anonymous ones, and the clean-up of a create that failed or was
//     killed for the anonymous volumes it made; never while a container
//     uses it, force or not.
//
// # The local driver's options
//
// Create accepts the options type, device and o. o=bind,device=DIR makes
// the volume a bind of DIR instead of _data. type=tmpfs makes it one tmpfs
// on the host, and type=T,device=DEV (ext4 on /dev/sdb1, nfs with
// o=addr=...) that device's file system, mounted on _data
// ([Volume.HostMount]) and bound into each container that uses it, so that
// they share it as Docker's containers do. The package still mounts
// nothing itself: the Store's Mount and Unmount hooks, which its user sets
// to the runtime's, make and undo that mount; [Store.Ready] makes it at a
// container's creation and at each start (a reboot takes it away), and
// Remove unmounts it, leaving the device's data alone. Copy-up into a
// mounted volume goes straight in, a mount point being impossible to
// rename over.
//
// # Crash safety
//
// [Store.Sweep], which the container store's sweep calls, removes what a
// process killed in the middle left: a volume directory without meta.json
// (a create killed before it wrote it, or a remove killed after it took it
// away first) and a copy-up's temporary directory whose process, named in
// it, is gone. Named volumes with their metadata are never touched.
package volumes
