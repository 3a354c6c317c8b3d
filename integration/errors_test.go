package integration

import (
	"strings"
	"testing"
)

// TestResourceLimitsRefused: a limit out of range is refused alike from
// compose's keys and from `container run`'s flags, with Docker daemon's
// words, and nothing of the project is made; before, `cpus: -1` ran the
// service with no limit at all.
func TestResourceLimitsRefused(t *testing.T) {
	_, _, compose := composeRoot(t, `name: limits
services:
  web:
    image: bb:1
    command: ["sleep", "60"]
    cpus: -1
`)
	const cpusRange = "range of CPUs is from 0.01 to"
	r := compose("up", "-d")
	if r.code != 1 || !strings.Contains(r.stderr, `service "web": `+cpusRange) {
		t.Errorf("up with cpus: -1: exit %d, %q", r.code, r.stderr)
	}
	if ps := compose("ps", "-a", "-q").stdout; ps != "" {
		t.Errorf("a refused up made containers: %q", ps)
	}
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--cpus", "-1"}, cpusRange},
		{[]string{"--cpu-shares", "-1"}, "invalid value -1 for CPU shares"},
		{[]string{"--cpu-period", "5"}, "CPU cfs period can not be less than 1ms"},
		{[]string{"-m", "1k"}, "minimum memory limit allowed is 6MB"},
		{[]string{"--memory-swappiness", "101"}, "valid memory swappiness range is 0-100"},
		{[]string{"--oom-score-adj", "2000"}, "range for oom score adj is [-1000, 1000]"},
	} {
		r := compose(append(append([]string{"container", "run", "--rm"}, c.flags...), "bb:1", "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "strconv") {
			t.Errorf("run %v: exit %d, %q; want 125 and %q", c.flags, r.code, r.stderr, c.want)
		}
	}
}

// TestUpFailureNotInterrupt: one service that fails stops its siblings,
// and up exits 1 with that failure, as docker compose does; before, the
// sibling's cancelled wait made it exit 130, as if interrupted.
func TestUpFailureNotInterrupt(t *testing.T) {
	_, _, compose := composeRoot(t, `name: sibling
services:
  gate:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    healthcheck: {test: ["CMD", "true"], interval: 100ms}
  bad:
    image: bb:1
    command: ["/nonexistent"]
    depends_on: {gate: {condition: service_healthy}}
  slow:
    image: bb:1
    init: true
    command: ["sleep", "60"]
    healthcheck: {test: ["CMD", "false"], interval: 1h, start_period: 1h}
  waiter:
    image: bb:1
    command: ["sleep", "60"]
    depends_on: {slow: {condition: service_healthy}}
`)
	r := compose("up", "-d")
	if r.code != 1 || !strings.Contains(r.stderr, "/nonexistent") || strings.Contains(r.stderr, "context canceled") {
		t.Errorf("up with a failing service: exit %d, %q; want 1 and bad's error alone", r.code, r.stderr)
	}
}
