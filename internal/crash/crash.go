// Package crash is the test hook that kills berth at a named step, so
// that tests can check what the next command makes of what a killed one
// left (docs/internals.md, "Crash safety").
//
// BERTH_TEST_CRASH_AT=STEP makes the process SIGKILL itself when it
// reaches Point(STEP): no deferred clean-up runs, as with a real kill.
// The variable is read once and taken out of the environment, so that
// the monitors and keepers the command starts do not inherit it: only
// the command itself dies.
package crash

import (
	"os"

	"golang.org/x/sys/unix"
)

// Env is the variable that names the step to die at.
const Env = "BERTH_TEST_CRASH_AT"

var at = os.Getenv(Env)

func init() { os.Unsetenv(Env) }

// Point is the named step: the process dies here if asked to.
func Point(step string) {
	if at != "" && at == step {
		unix.Kill(os.Getpid(), unix.SIGKILL)
		select {} // the signal is on its way
	}
}
