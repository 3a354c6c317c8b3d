package container

import (
	"fmt"
	"strconv"
	"strings"

	units "github.com/docker/go-units"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/runtime"
)

// SecurityOpt applies one --security-opt (compose's security_opt) to o,
// one parser for both, as Docker's CLI and docker compose read them:
// no-new-privileges (with :true, =true, :false, =false),
// seccomp=unconfined, and seccomp=FILE, a profile read with read (the
// CLI reads it from the working directory, compose from the project's).
// Anything else is refused as not supported yet.
func (o *CreateOptions) SecurityOpt(so string, read func(path string) ([]byte, error)) error {
	switch so {
	case "no-new-privileges", "no-new-privileges:true", "no-new-privileges=true":
		o.NoNewPrivileges = true
		return nil
	case "no-new-privileges:false", "no-new-privileges=false":
		o.NoNewPrivileges = false
		return nil
	case "seccomp=unconfined", "seccomp:unconfined":
		o.Unconfined = true
		return nil
	}
	file, ok := strings.CutPrefix(so, "seccomp=")
	if !ok {
		file, ok = strings.CutPrefix(so, "seccomp:")
	}
	if !ok {
		return errclass.New(ErrInvalid, "security option %q is not supported yet (no-new-privileges and seccomp are)", so)
	}
	data, err := read(file)
	if err != nil {
		return errclass.Wrap(ErrInvalid, err, fmt.Sprintf("opening seccomp profile (%s) failed: %v", file, err))
	}
	if err := runtime.CheckSeccompProfile(string(data)); err != nil {
		return errclass.Wrap(ErrInvalid, err, fmt.Sprintf("loading seccomp profile %s: %v", file, err))
	}
	o.SeccompProfile = string(data)
	return nil
}

// LogOpt applies one json-file log option (--log-opt KEY=VALUE, an entry
// of compose's logging.options), parsed as Docker's json-file driver does:
// max-size, a positive size; max-file, a count of at least 1, which
// without max-size keeps the one file unbounded.
func (o *CreateOptions) LogOpt(key, value string) error {
	switch key {
	case "max-size":
		n, err := units.RAMInBytes(value)
		if err != nil {
			return errclass.Wrap(ErrInvalid, err, fmt.Sprintf("max-size: %v", err))
		}
		if n <= 0 {
			return errclass.New(ErrInvalid, "max-size must be a positive number")
		}
		o.LogMaxSize = n
	case "max-file":
		n, err := strconv.Atoi(value)
		if err != nil {
			return errclass.Wrap(ErrInvalid, err, fmt.Sprintf("max-file: %v", err))
		}
		if n < 1 {
			return errclass.New(ErrInvalid, "max-file cannot be less than 1")
		}
		o.LogMaxFile = n
	default:
		return errclass.New(ErrInvalid, "unknown log opt '%s' for json-file log driver", key)
	}
	return nil
}
