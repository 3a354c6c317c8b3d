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
