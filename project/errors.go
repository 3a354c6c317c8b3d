package project

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
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
	ErrInvalid = errclass.Sentinel(errclass.ErrInvalid, "invalid compose project")
	// ErrNotFound: a file, service, profile or env file that was named does not exist.
	ErrNotFound = errclass.Sentinel(errclass.ErrNotFound, "not found")
	// ErrCycle: services depend on each other in a loop.
	ErrCycle = errclass.Sentinel(errclass.ErrInvalid, "dependency cycle")
)

func invalidf(format string, args ...any) error { return errclass.New(ErrInvalid, format, args...) }

// class is err with class attached and its message on one line, in the
// user's words.
func class(c, err error) error { return errclass.Wrap(c, err, userWords(oneLine(err.Error()))) }

var (
	// the schema's additionalProperties: false, as jsonschema v6 reports it
	falseSchema = regexp.MustCompile(`(^|[\s:])([^\s:]+) false schema\b`)
	// a value compose-go could not convert to the key's type
	castFailed = regexp.MustCompile(`error while interpolating ([^:]+): failed to cast to expected type: strconv\.(\w+): parsing "((?:[^"\\]|\\.)*)": (invalid syntax|value out of range)`)
	// mapstructure's decoding errors: 'services[web].mem_limit' invalid size: 'abc'
	decodeFailed = regexp.MustCompile(`decoding failed due to the following error\(s\):;? ?`)
	decodePath   = regexp.MustCompile(`'([^'\s]+)' `)
	indexed      = regexp.MustCompile(`\[([^\]]+)\]`)
)

// userWords rewrites what compose-go's dependencies say in their terms into
// the user's: the key of the file and what is wrong with its value, as
// docker compose words it where it does (an unknown key is "additional
// properties 'KEY' not allowed", not jsonschema's "false schema"), never Go's
// strconv or mapstructure vocabulary.
func userWords(msg string) string {
	msg = falseSchema.ReplaceAllStringFunc(msg, func(m string) string {
		sub := falseSchema.FindStringSubmatch(m)
		parent, key := "(root)", sub[2]
		if i := strings.LastIndex(key, "."); i >= 0 {
			parent, key = key[:i], key[i+1:]
		}
		return fmt.Sprintf("%s%s additional properties '%s' not allowed", sub[1], parent, key)
	})
	msg = castFailed.ReplaceAllStringFunc(msg, func(m string) string {
		sub := castFailed.FindStringSubmatch(m)
		want := "a number"
		switch {
		case sub[2] == "ParseBool":
			want = "true or false"
		case sub[2] == "Atoi" || strings.HasPrefix(sub[2], "ParseInt") || strings.HasPrefix(sub[2], "ParseUint"):
			want = "a whole number"
		}
		if sub[4] == "value out of range" {
			return fmt.Sprintf("%s: %q is out of range", sub[1], sub[3])
		}
		return fmt.Sprintf("%s: invalid value %q: want %s", sub[1], sub[3], want)
	})
	if loc := decodeFailed.FindStringIndex(msg); loc != nil {
		rest := decodePath.ReplaceAllStringFunc(msg[loc[1]:], func(m string) string {
			return indexed.ReplaceAllString(decodePath.FindStringSubmatch(m)[1], ".$1") + ": "
		})
		msg = msg[:loc[0]] + rest
	}
	return msg
}

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
