package monitor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Report is one message of a container's monitor to the command that
// started it, on the status pipe (pipes.Status), one JSON object per
// line. The monitor sends ReportStarted once the container's process
// runs, or ReportFailed if it could not start it (and then ends); to an
// attached caller it then sends ReportExited once the container has stopped for good (restarts
// included) and, with --rm, been removed. Nothing else is ever sent.
type Report struct {
	Kind ReportKind `json:"kind"`
	// Pid is the started container's init, on the host (ReportStarted).
	Pid int `json:"pid,omitempty"`
	// Code is the start failure's exit code, Docker's 125 to 127
	// (ReportFailed), or the container's exit code (ReportExited).
	Code int `json:"code"`
	// Error says why the start failed (ReportFailed), on one line.
	Error string `json:"error,omitempty"`
}

// ReportKind is what a Report says.
type ReportKind string

const (
	ReportStarted ReportKind = "started"
	ReportFailed  ReportKind = "failed"
	ReportExited  ReportKind = "exited"
)

// send writes s as one line to w, the status pipe; nil w (a monitor
// started without a caller waiting: a restart, a recovery) drops it.
func (s Report) send(w io.Writer) {
	if w == nil {
		return
	}
	line, _ := json.Marshal(s)
	w.Write(append(line, '\n'))
}

// ReadReport reads the next message from the status pipe: io.EOF when the
// monitor ended without one, an error for a line that is not a message
// (never written by a monitor of this berth).
func ReadReport(lines *bufio.Scanner) (Report, error) {
	if !lines.Scan() {
		if err := lines.Err(); err != nil {
			return Report{}, err
		}
		return Report{}, io.EOF
	}
	var s Report
	if err := json.Unmarshal(lines.Bytes(), &s); err != nil || s.Kind == "" {
		return Report{}, fmt.Errorf("reading the monitor's status %q: not a status message", lines.Text())
	}
	return s, nil
}
