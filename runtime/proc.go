package runtime

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// statFields splits a /proc/PID/stat line, "PID (COMM) STATE PPID ...",
// into the command name and the fields after it (STATE first): COMM may
// hold spaces and parentheses of its own, so it ends at the last ")".
func statFields(stat []byte) (comm []byte, fields [][]byte, ok bool) {
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return nil, nil, false
	}
	return stat[open+1 : end], bytes.Fields(stat[end+1:]), true
}

// parseStat reads a /proc/PID/stat line's command name, state and parent
// PID.
func parseStat(stat []byte) (comm []byte, state, ppid string, ok bool) {
	comm, f, ok := statFields(stat)
	if !ok || len(f) < 2 {
		return nil, "", "", false
	}
	return comm, string(f[0]), string(f[1]), true
}

// StartTime is when process pid started, in clock ticks after boot (field
// 22 of /proc/PID/stat): with the PID, what tells a process from a later
// one that reuses its PID. An exec keeps it.
func StartTime(pid int) (uint64, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	_, f, ok := statFields(stat)
	if !ok || len(f) < 20 {
		return 0, fmt.Errorf("reading /proc/%d/stat: unexpected form", pid)
	}
	return strconv.ParseUint(string(f[19]), 10, 64) // field 22 is the 20th after the name
}
