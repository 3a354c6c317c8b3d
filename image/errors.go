package image

import (
	"errors"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/tarfs"
)

// Error classes; every error the package returns wraps one of them.
var (
	// ErrNotFound: no such image, reference, tag or blob.
	ErrNotFound = errclass.Sentinel(errclass.ErrNotFound, "not found")
	// ErrInvalid: a malformed reference, archive or option.
	ErrInvalid = errclass.Sentinel(errclass.ErrInvalid, "invalid")
	// ErrConflict: the operation would break something in use, such as
	// removing an image a container uses.
	ErrConflict = errclass.Sentinel(errclass.ErrConflict, "conflict")
	// ErrRegistry: the registry refused or failed (after retries).
	ErrRegistry = errclass.Sentinel(errclass.ErrUnavailable, "registry error")
	// ErrDigest: content did not match its digest or size.
	ErrDigest = errclass.Sentinel(errclass.ErrFailed, "digest mismatch")
)

func wrap(class error, err error, msg string) error { return errclass.Wrap(class, err, msg) }

// fromTarfs gives a tarfs error image's class for a bad archive.
func fromTarfs(err error) error {
	if errors.Is(err, tarfs.ErrInvalid) {
		return wrap(ErrInvalid, err, err.Error())
	}
	return err
}
