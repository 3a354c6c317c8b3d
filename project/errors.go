package project

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/compose-spec/compose-go/v2/errdefs"

	"github.com/berth-dev/berth/errclass"
)

// Error classes. Every error Load, LoadModel, NewGraph and WriteConfig return
// wraps exactly one of these, so callers branch with errors.Is and the CLI
// picks its exit code from the class.
var (
	// ErrInvalid: the files are not a valid project (syntax, schema, types,
	// a required variable unset, a bad project name, a bad flag value).
	ErrInvalid = errors.New("invalid compose project")
	// ErrNotFound: a file, service, profile or env file that was named does not exist.
	ErrNotFound = errors.New("not found")
	// ErrCycle: services depend on each other in a loop.
	ErrCycle = errors.New("dependency cycle")
)

func invalidf(format string, args ...any) error { return errclass.New(ErrInvalid, format, args...) }

// class is err with class attached and its message on one line.
func class(c, err error) error { return errclass.Wrap(c, err, oneLine(err.Error())) }

// classify puts a compose-go error into one of berth's classes and onto one line.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrNotFound), errors.Is(err, ErrCycle):
		return err
	case errors.Is(err, fs.ErrNotExist), errdefs.IsNotFoundError(err),
		strings.Contains(err.Error(), "no configuration file provided"),
		strings.Contains(err.Error(), "couldn't find env file"),
		strings.HasPrefix(err.Error(), "no such service"):
		return class(ErrNotFound, err)
	case strings.Contains(err.Error(), "dependency cycle"):
		return class(ErrCycle, err)
	}
	return class(ErrInvalid, err)
}

// oneLine folds a multi-line message (schema validation lists several) so the
// CLI prints exactly one line per error.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "\n") {
		return s
	}
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "; ")
}
