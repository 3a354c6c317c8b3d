package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/build"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/initgc"
)

// every package berth links is initialised once this runs (internal/initgc)
func init() { initgc.Done() }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one berth command line and returns its exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// compose-go reports some findings (an obsolete version: key) through
	// logrus; give them the same one-line shape as berth's own warnings.
	logrus.SetOutput(stderr)
	logrus.SetFormatter(warningFormatter{})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(dockerBuild(root, withoutCompose(root, args)))
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var exit exitError
	if errors.As(err, &exit) && exit.quiet {
		return exit.code
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// the user's Ctrl-C (or a SIGTERM) ended it: nothing to report,
		// as a shell's interrupted command prints nothing. Only a signal
		// exits 130: an error that wraps context.Canceled without one (a
		// sibling stopped after a failure) is an error like any other.
		return 130
	}
	fmt.Fprintf(stderr, "berth: %s\n", oneLine(err.Error()))
	return exitCode(err, cmd != nil && cmd.Annotations[stepExit] != "")
}

// withoutCompose drops the word compose where the command goes: "berth
// compose up" and "berth --root R compose up" are "berth up", so the words
// of a docker compose command line work as they are typed. Global flags
// before it are skipped with their values.
func withoutCompose(root *cobra.Command, args []string) []string {
	if at := commandWord(root, args); at >= 0 && args[at] == "compose" {
		return append(slices.Clone(args[:at]), args[at+1:]...)
	}
	return args
}

// commandWord is the index of the first word of args that is not a
// global flag or a global flag's value (the command, "--" or "-"), -1
// when there is none.
func commandWord(root *cobra.Command, args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			return i
		}
		if takesValue(root.Flags(), a) {
			i++ // the flag's value
		}
	}
	return -1
}

// stepExit is the annotation of the commands that exit with a failed RUN
// step's code.
const stepExit = "berth.exit.step"

// dockerBuild makes "berth build" docker build's form, "berth image
// build", when it cannot be compose's (services): when -t/--tag is given
// (compose's build has no such flag) or an argument is a path, starting
// with . or holding a / (a service name starts with a letter or digit and
// holds no /): berth build -t app . and berth build ./dir are docker
// build's; berth build web worker is compose's.
func dockerBuild(root *cobra.Command, args []string) []string {
	at := commandWord(root, args)
	if at < 0 || args[at] != "build" {
		return args
	}
	image, _, err := root.Find([]string{"image", "build"})
	compose, _, err2 := root.Find([]string{"build"})
	if err != nil || err2 != nil {
		return args
	}
	docker := false
	for i := at + 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) && isPath(args[i+1]) {
				docker = true
			}
			break
		}
		if a == "-" || !strings.HasPrefix(a, "-") {
			if isPath(a) {
				docker = true
			}
			continue
		}
		if a == "--tag" || strings.HasPrefix(a, "--tag=") || (!strings.HasPrefix(a, "--") && strings.Contains(strings.SplitN(a[1:], "=", 2)[0], "t")) {
			docker = true
			break
		}
		if takesValue(image.Flags(), a) || takesValue(compose.Flags(), a) {
			i++
		}
	}
	if !docker {
		return args
	}
	return append(append(slices.Clone(args[:at]), "image"), args[at:]...)
}

// isPath says whether a build's argument is a directory's path, which
// no service name can be.
func isPath(a string) bool { return strings.HasPrefix(a, ".") || strings.Contains(a, "/") }

// takesValue says whether the flag a (as typed: --name, -x, -xVALUE,
// --name=VALUE) is followed by its value as the next argument.
func takesValue(fs *pflag.FlagSet, a string) bool {
	var f *pflag.Flag
	if name, ok := strings.CutPrefix(a, "--"); ok {
		if strings.Contains(name, "=") {
			return false
		}
		f = fs.Lookup(name)
	} else if len(a) == 2 {
		f = fs.ShorthandLookup(a[1:])
	}
	return f != nil && f.NoOptDefVal == ""
}

// exitError carries an exit code chosen by a command.
type exitError struct {
	code  int
	err   error
	quiet bool // already reported; print nothing
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// errNotImplemented marks commands that later issues implement.
var errNotImplemented = errors.New("not implemented yet")

// usageError is a wrong flag or argument: Docker's CLI exits 125 for these.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Is makes every usage error of class errclass.ErrUsage.
func (e usageError) Is(target error) bool { return target == errclass.ErrUsage }

// exitCode is the code berth exits with for err, from its class: 125 for
// a usage error, as Docker's CLI; 1 for the rest, as docker compose exits
// for a container, image, volume or network that is not there, a
// conflict, a wrong state or a failure alike. A command that ran a
// process exits with that process's code (exitError), and a build
// command (steps: annotated stepExit) whose RUN step failed with that
// step's code (build.ExitError); up --build and run --build keep 1, their
// codes being their containers'.
func exitCode(err error, steps bool) int {
	var exit exitError
	var step *build.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.code
	case steps && errors.As(err, &step) && step.Code > 0 && step.Code < 256:
		return step.Code
	case errors.Is(err, errclass.ErrUsage):
		return 125
	}
	return 1
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

type warningFormatter struct{}

func (warningFormatter) Format(e *logrus.Entry) ([]byte, error) {
	return []byte(fmt.Sprintf("%s: %s\n", levelWord(e.Level), oneLine(e.Message))), nil
}

func levelWord(l logrus.Level) string {
	if l <= logrus.ErrorLevel {
		return "error"
	}
	if l == logrus.WarnLevel {
		return "warning"
	}
	return l.String()
}
