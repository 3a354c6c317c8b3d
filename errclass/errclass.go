// Package errclass attaches a class (a sentinel such as ErrNotFound) to an
// error without changing its message: errors.Is finds the class, the user
// reads only the message, as Docker words it.
package errclass

import "fmt"

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
