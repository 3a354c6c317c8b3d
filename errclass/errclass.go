package errclass

import (
	"errors"
	"fmt"
)

// The classes.
var (
	// ErrNotFound: what was named does not exist (a container, an image, a
	// volume, a network, a service).
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request or the input is malformed (a compose file, a
	// value out of range, an archive).
	ErrInvalid = errors.New("invalid")
	// ErrConflict: it clashes with what exists (a name taken, a port
	// allocated, an object in use).
	ErrConflict = errors.New("conflict")
	// ErrState: the object is not in a state that allows it (stopping a
	// stopped container, exec in a paused one).
	ErrState = errors.New("wrong state")
	// ErrFailed: it was tried and did not work (a service that did not
	// complete, a digest that did not match).
	ErrFailed = errors.New("failed")
	// ErrUnavailable: something outside ran out or did not answer (a
	// registry, the subnet pool).
	ErrUnavailable = errors.New("unavailable")
	// ErrUsage: a wrong flag or argument on the command line (Docker's CLI
	// exits 125).
	ErrUsage = errors.New("usage")
)

// Classes are all the classes, for tests that check every sentinel has one.
var Classes = []error{ErrNotFound, ErrInvalid, ErrConflict, ErrState, ErrFailed, ErrUnavailable, ErrUsage}

// Sentinel is a package's own sentinel error, of class, saying msg.
func Sentinel(class error, msg string) error { return &sentinel{class, msg} }

type sentinel struct {
	class error
	msg   string
}

func (s *sentinel) Error() string { return s.msg }
func (s *sentinel) Unwrap() error { return s.class }

// Of is the class of err, or nil when it has none.
func Of(err error) error {
	for _, c := range Classes {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

type classed struct {
	class error
	msg   string
	err   error
}

func (c *classed) Error() string   { return c.msg }
func (c *classed) Unwrap() []error { return []error{c.class, c.err} }

// New is an error of class with a formatted message.
func New(class error, format string, args ...any) error {
	return &classed{class: class, msg: fmt.Sprintf(format, args...)}
}

// Wrap is err, of class, with msg as its message.
func Wrap(class, err error, msg string) error {
	return &classed{class: class, msg: msg, err: err}
}
