package image

import "errors"

// Error classes; every error the package returns wraps one of them.
var (
	// ErrNotFound: no such image, reference, tag or blob.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: a malformed reference, archive or option.
	ErrInvalid = errors.New("invalid")
	// ErrConflict: the operation would break something in use, such as
	// removing an image a container uses.
	ErrConflict = errors.New("conflict")
	// ErrRegistry: the registry refused or failed (after retries).
	ErrRegistry = errors.New("registry error")
	// ErrDigest: content did not match its digest or size.
	ErrDigest = errors.New("digest mismatch")
)

// classed keeps a message and adds a class for errors.Is.
type classed struct {
	class error
	msg   string
	err   error
}

func (c *classed) Error() string   { return c.msg }
func (c *classed) Unwrap() []error { return []error{c.class, c.err} }

func wrap(class error, err error, msg string) error {
	return &classed{class: class, msg: msg, err: err}
}
