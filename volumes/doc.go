// Package volumes keeps berth's volumes (Docker's local driver) and
// describes the mounts that put them, bind mounts and tmpfs into containers.
// It returns mount descriptions and never mounts into a container itself:
// the runtime does. It mounts only what the local driver needs on the host
// (a tmpfs or a device volume's own file system), and the image's read-only
// view for the first copy-up.
//
// Vocabulary:
//
//   - A volume is <root>/volumes/<name>/: meta.json (driver, options, labels,
//     creation time) and _data, the directory containers see. An anonymous
//     volume has a 64-hex name and the label com.docker.volume.anonymous.
//   - Copy-up: the first time an empty volume is mounted over a path that
//     holds files in the image, those files (owners, modes, xattrs, links
//     kept) are copied into it, as Docker does. The copy goes to a temporary
//     directory renamed over _data, so a crash leaves the volume empty (and
//     the copy is retried) or complete, never half-copied.
//   - A volume's data is removed only by Remove and Prune, which say what
//     they removed; nothing else in berth deletes it.
package volumes
