package container

import (
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
)

// Error classes: a container's record's, and ErrNoImage.
var (
	ErrNotFound = record.ErrNotFound
	// ErrNoImage: the image a container is to run is not here, and may
	// not be pulled.
	ErrNoImage  = errclass.Sentinel(errclass.ErrNotFound, "no such image")
	ErrConflict = record.ErrConflict
	ErrState    = record.ErrState
	ErrInvalid  = record.ErrInvalid
)

// Exit codes for a container that could not run, as Docker reports them:
// the monitor's, which starts it.
const (
	ExitNotFound      = monitor.ExitNotFound
	ExitNotExecutable = monitor.ExitNotExecutable
	ExitStartFailed   = monitor.ExitStartFailed
)
