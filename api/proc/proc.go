package proc

import (
	"io"
	"os"
	"time"
)

// Streams are a caller's standard streams, the terminal among them when
// its stdin is one (or a file the caller names as such).
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Terminal       *os.File
}

// ExecOptions are `exec`'s settings.
type ExecOptions struct {
	Cmd     []string
	Env     []string
	User    string
	WorkDir string
	TTY     bool
	Detach  bool
	// Privileged gives the command every capability (exec --privileged).
	Privileged bool
	// Stdin is nil unless -i; Stdout and Stderr get the output (Stdout
	// alone with a TTY, as a terminal has one stream).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Terminal is the caller's terminal, with TTY: raw while the command
	// runs, and its size is the command's, -i or not.
	Terminal *os.File
}

// AttachOptions are `attach`'s settings.
type AttachOptions struct {
	// NoStdin does not attach input (which only a container created with
	// -i takes).
	NoStdin bool
	Stdin   io.Reader
	// SigProxy forwards SIGINT and SIGTERM to the container, as Docker does.
	SigProxy       bool
	Stdout, Stderr io.Writer
}

// CopyOptions are `cp`'s settings.
type CopyOptions struct {
	// Archive keeps the owners in the copy (-a); otherwise files belong to
	// the destination's side: the container's user, or the caller.
	Archive bool
	// FollowLink copies what a source symlink points at (-L).
	FollowLink bool
	Stdin      io.Reader // the tar stream for a source of "-"
	Stdout     io.Writer // where a destination of "-" writes its tar
}

// LogOptions are `logs`'s settings.
type LogOptions struct {
	Follow     bool
	Timestamps bool
	// Tail keeps the last Tail lines; negative keeps all.
	Tail         int
	Since, Until time.Time
}

// Processes are a container's processes as docker top lists them: ps's
// column titles and, for each process, its fields, the last (the command)
// whole.
type Processes struct {
	Titles    []string
	Processes [][]string
}

// StatsRow is one row of `stats`, with Docker's field names.
type StatsRow struct {
	Container, ID, Name, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs string
}
