package record

import (
	"fmt"
	"slices"
	"time"

	"net/netip"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/netns/port"
)

// Status is where a container is in its lifecycle.
type Status string

const (
	Created    Status = "created"
	Running    Status = "running"
	Paused     Status = "paused"
	Restarting Status = "restarting"
	Exited     Status = "exited"
	Removing   Status = "removing"
	Dead       Status = "dead"
)

// transitions is the lifecycle: the states each state may move to.
var transitions = map[Status][]Status{
	Created:    {Running, Exited, Removing},
	Running:    {Exited, Paused, Restarting, Removing, Dead},
	Paused:     {Running, Exited, Restarting, Removing},
	Restarting: {Running, Exited, Removing},
	Exited:     {Running, Restarting, Removing},
	Dead:       {Removing},
	Removing:   {},
}

// Error classes.
var (
	ErrNotFound = errclass.Sentinel(errclass.ErrNotFound, "no such container")
	ErrConflict = errclass.Sentinel(errclass.ErrConflict, "conflict")
	ErrState    = errclass.Sentinel(errclass.ErrState, "wrong container state")
	ErrInvalid  = errclass.Sentinel(errclass.ErrInvalid, "invalid")
)

// State is what a container is doing, kept in state.json.
type State struct {
	Status     Status
	Pid        int // the container's init, on the host
	MonitorPid int
	// MonitorStart is when the monitor's process started, in clock ticks
	// after boot (/proc/PID/stat): what tells it from a later process
	// with its PID. Unlike its command line it holds across the monitor's
	// exec of its waiting program.
	MonitorStart uint64 `json:",omitempty"`
	// Keeper is the monitor's parent (package keeper), which starts a
	// recovery monitor should the monitor die by a signal, and
	// KeeperStart its start time, as MonitorStart is the monitor's.
	Keeper       int    `json:",omitempty"`
	KeeperStart  uint64 `json:",omitempty"`
	ExitCode     int
	OOMKilled    bool
	Error        string
	StartedAt    time.Time
	FinishedAt   time.Time
	RestartCount int
	// StopRequested is set by stop and kill: the monitor then does not
	// restart the container whatever its policy, until a start clears it,
	// as Docker's manual stop does.
	StopRequested bool
	// Signals are the signals kill and stop sent to this run, in order,
	// and Stopped is set by a stop (not a kill, nor rm -f): what `events`
	// reports as kill events (with their signal) and, after the die, a
	// stop event, as Docker's daemon logs them. A start clears both.
	Signals []int `json:",omitempty"`
	Stopped bool  `json:",omitempty"`
	// Halted is set by a halt (down), whose caller goes on to remove the
	// container and so cleans up after it: its monitor's waiting process
	// stops at recording the exit (package shim).
	Halted bool `json:",omitempty"`
	// Networks are the container's endpoints while it runs, by network.
	Networks map[string]Endpoint `json:",omitempty"`
	// Health is the healthcheck's last verdict and probes.
	Health *Health `json:",omitempty"`
	// Ports are the published ports while it runs, host ports picked.
	Ports []port.Binding `json:",omitempty"`
	// BootID is the kernel's boot ID (BootID) when the container last
	// started: a state from another boot describes processes, mounts and
	// links that the reboot took away, whatever its PIDs now name.
	BootID string `json:",omitempty"`
	// Rebooted is set when the machine went down while the container ran
	// (or restarted): what on-failure restores at boot (see Restorable).
	Rebooted bool `json:",omitempty"`
}

// To moves the state to next, or refuses a move the lifecycle does not have.
func (s *State) To(next Status) error {
	if s.Status == "" {
		s.Status = Created
	}
	if !slices.Contains(transitions[s.Status], next) {
		return fmt.Errorf("cannot go from %s to %s: %w", s.Status, next, ErrState)
	}
	s.Status = next
	return nil
}

// Exit records the end of a run: exited, or restarting when restart says
// the restart policy follows it with another run (in the same write, so
// that between two runs the container never shows as exited, as in
// Docker), with the exit code, when, whether the OOM killer struck, no
// process and no published ports. The endpoints stay, for whoever leaves
// the networks first to take. A move the state machine refuses is an
// error, and leaves the state as it was.
func (s *State) Exit(code int, at time.Time, oom, restart bool) error {
	next := Exited
	if restart {
		next = Restarting
	}
	if err := s.To(next); err != nil {
		return err
	}
	s.ExitCode, s.Pid, s.OOMKilled, s.FinishedAt, s.Ports = code, 0, oom, at, nil
	return nil
}

// Running reports whether the container's process is alive (paused included).
func (s State) Running() bool { return s.Status == Running || s.Status == Paused }

// Endpoint is a running container's place on one network, kept in its
// state for inspect and for leaving the network when it stops.
type Endpoint struct {
	NetworkID string
	HostIf    string
	IfName    string // in the container: eth0, eth1, ...
	Address   netip.Prefix
	Gateway   netip.Addr
	MAC       string
}

// Healthcheck is how a container's health is probed, in Docker's terms:
// Test is ["CMD", arg...] or ["CMD-SHELL", command]; the durations and
// retries take Docker's defaults where zero.
type Healthcheck struct {
	Test          []string
	Interval      time.Duration `json:",omitempty"`
	Timeout       time.Duration `json:",omitempty"`
	StartPeriod   time.Duration `json:",omitempty"`
	StartInterval time.Duration `json:",omitempty"`
	Retries       int           `json:",omitempty"`
}

// Health statuses, as Docker shows them.
const (
	Starting  = "starting"
	Healthy   = "healthy"
	Unhealthy = "unhealthy"
)

// Health is a container's health while it runs (inspect's State.Health).
type Health struct {
	Status        string
	FailingStreak int
	Log           []HealthResult
}

// HealthResult is one probe: when, its exit code and output.
type HealthResult struct {
	Start, End time.Time
	ExitCode   int
	Output     string
}
