package shim

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// None marks an absent descriptor.
const None = -1

// Handoff is what the monitor passes to the waiting process, and back.
// Descriptors are numbers, valid in the process that reads the handoff.
type Handoff struct {
	Root, ID string
	// StateDir is the container's directory in the store: its state, to
	// record the exit in.
	StateDir string
	// Restart is the container's restart policy: whether its exit is
	// recorded as exited or as restarting.
	Restart Policy `json:",omitzero"`
	// Cgroup is the container's cgroup (/berth/ID, or under its parent):
	// where the OOM killer's count is read at the exit.
	Cgroup string
	// Pid is the container's init, a child of this process.
	Pid int
	// Resume is the command line exec'd after the exit, with the handoff
	// (ExitCode and Exited set) on the descriptor that --handoff= names.
	Resume []string
	Log    Log
	// Streams are the container's output: two pipes, or its terminal.
	Streams []Stream
	// Input is the container's stdin (a pipe's write end or the terminal
	// master), CallerInput what an attached caller types. CloseInput closes
	// Input when CallerInput ends (run -i: the caller's end of input is the
	// container's).
	Input, CallerInput int
	CloseInput         bool
	// Hub is the attach point's listening socket; HubInput sends its
	// clients' input to Input.
	Hub      int
	HubInput bool
	DNS      *DNS   `json:",omitempty"`
	Probe    *Probe `json:",omitempty"`
	// Status is the pipe to the command that started the monitor (or
	// None), which hears of the exit from the monitor at the end.
	Status int
	// Held are descriptors kept open for the container's life and closed
	// at its exit: the published ports' reservations.
	Held []int `json:",omitempty"`
	// Monitor is the monitor's own state, carried across (its back-off).
	Monitor json.RawMessage `json:",omitempty"`
	// Set at the exit. Recorded says the waiting process recorded it in
	// the state (StateDir); Halted that a down stopped the container, and
	// will clean up after it.
	ExitCode int
	Exited   time.Time
	Recorded bool `json:",omitempty"`
	Halted   bool `json:",omitempty"`
}

// Log is where output goes: a json-file log.
type Log struct {
	Path     string
	MaxSize  int64
	MaxFiles int
}

// Stream is one output stream: its descriptor, its name in the log
// (stdout, stderr), and an attached caller's pipe for a copy (or None).
type Stream struct {
	FD   int
	Name string
	Tee  int
}

// DNS is the container's resolver: its sockets (opened in the container's
// network namespace) and what it answers from.
type DNS struct {
	UDP       []int
	TCP       int
	Table     string
	Self      string
	Upstreams []string          `json:",omitempty"`
	Links     map[string]string `json:",omitempty"`
}

// Probe is the container's healthcheck: the command that probes once and
// prints the wait before the next probe, and when the first is due.
type Probe struct {
	Argv  []string
	First time.Time
}

// Fds are the descriptors the handoff names.
func (h *Handoff) Fds() []int {
	fds := []int{h.Input, h.CallerInput, h.Hub, h.Status}
	for _, s := range h.Streams {
		fds = append(fds, s.FD, s.Tee)
	}
	if h.DNS != nil {
		fds = append(append(fds, h.DNS.UDP...), h.DNS.TCP)
	}
	return append(fds, h.Held...)
}

// Exec replaces this process with argv[0] run as argv plus
// --handoff=FD, which reads h on FD. The descriptors keep (and the
// handoff's) stay open across the exec; every other one this process
// opened closes, as Go opens them close-on-exec. It returns only on
// failure.
func Exec(argv []string, h *Handoff, keep []int) error {
	fd, err := memfdWith(h)
	if err != nil {
		return fmt.Errorf("handing over: %w", err)
	}
	for _, k := range append(keep, fd) {
		if k >= 0 {
			if _, err := unix.FcntlInt(uintptr(k), unix.F_SETFD, 0); err != nil {
				unix.Close(fd)
				return fmt.Errorf("handing over descriptor %d: %w", k, err)
			}
		}
	}
	args := append(append([]string(nil), argv...), fmt.Sprintf("--handoff=%d", fd))
	err = syscall.Exec(argv[0], args, os.Environ())
	unix.Close(fd)
	for _, k := range keep {
		if k >= 0 {
			unix.FcntlInt(uintptr(k), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
	return fmt.Errorf("exec %s: %w", argv[0], err)
}

// memfdWith is a memfd holding h (a memfd, not a pipe: the same process
// reads it back after the exec, so nothing may wait for a reader).
func memfdWith(h *Handoff) (int, error) {
	data, err := json.Marshal(h)
	if err != nil {
		return None, err
	}
	fd, err := unix.MemfdCreate("berth-handoff", 0)
	if err != nil {
		return None, err
	}
	if _, err := unix.Pwrite(fd, data, 0); err != nil {
		unix.Close(fd)
		return None, err
	}
	return fd, nil
}

// Read reads the handoff on fd and closes it.
func Read(fd int) (*Handoff, error) {
	f := os.NewFile(uintptr(fd), "handoff")
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading the handoff: %w", err)
	}
	var h Handoff
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("reading the handoff: %w", err)
	}
	h.Keep()
	return &h, nil
}

// Keep marks the descriptors h names close-on-exec: they are this
// process's, and none leaks into a child it starts (a probe, a
// container's init), where it would hold a pipe open.
func (h *Handoff) Keep() {
	for _, k := range h.Fds() {
		if k >= 0 {
			unix.FcntlInt(uintptr(k), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
}
