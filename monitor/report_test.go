package monitor

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestReport: the monitor's messages arrive as sent, in order, a message
// with a multi-line error included; the end of the pipe is io.EOF, and a
// line no monitor writes is an error, not a message with a zero code.
func TestReport(t *testing.T) {
	var pipe bytes.Buffer
	sent := []Report{
		{Kind: ReportFailed, Code: 127, Error: `exec: "nope": executable file not found in $PATH`},
		{Kind: ReportStarted, Pid: 4242},
		{Kind: ReportExited, Code: 0},
		{Kind: ReportExited, Code: 137},
	}
	for _, r := range sent {
		r.send(&pipe)
	}
	Report{Kind: ReportExited}.send(nil) // no caller: dropped
	lines := bufio.NewScanner(&pipe)
	for _, want := range sent {
		got, err := ReadReport(lines)
		if err != nil || got != want {
			t.Errorf("read %+v, %v; want %+v", got, err, want)
		}
	}
	if _, err := ReadReport(lines); err != io.EOF {
		t.Errorf("after the last message: %v, want io.EOF", err)
	}
	for _, bad := range []string{"ok 4242\n", "exit abc\n", "{}\n"} {
		if got, err := ReadReport(bufio.NewScanner(strings.NewReader(bad))); err == nil {
			t.Errorf("%q read as %+v", bad, got)
		}
	}
}
