// Package jsonlog is a container's log in Docker's json-file format: one
// JSON object a line, {"log": text, "stream": "stdout"|"stderr", "time":
// RFC 3339}, in <id>-json.log beside the container's state.
//
// A [Writer] is the monitor's side: [Writer.Drain] copies one of the
// container's streams into the file line by line (a line longer than 16
// KiB is split into entries of that size, the last one ending the line, as
// Docker splits them), and with a size limit the file is rotated as
// Docker's driver rotates it: log -> log.1 -> ... -> log.<files-1>, the
// oldest dropped. [Files] lists a log's files, oldest first, and [Read]
// reads one from an offset on, so `logs -f` can resume where it stopped.
//
// The package uses nothing but the standard library: it is part of what a
// monitor runs while it waits, and what a monitor links it keeps mapped.
package jsonlog
