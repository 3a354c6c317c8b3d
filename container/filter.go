package container

import (
	"path"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/match"
	"github.com/berth-dev/berth/record"
)

// Filter returns the predicate of Docker's `ps --filter` values: name, id,
// label (KEY or KEY=VALUE), status, exited (a code) and ancestor (the image
// as named). Filters of one key are alternatives; different keys must all
// hold.
func Filter(filters []string) (func(record.Entry) bool, error) {
	byKey := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errclass.New(ErrInvalid, "bad format of filter (expected name=value): %s", f)
		}
		switch k {
		case "name", "id", "label", "status", "ancestor":
		case "exited":
			if _, err := strconv.Atoi(v); err != nil {
				return nil, errclass.New(ErrInvalid, "invalid filter 'exited=%s'", v)
			}
		default:
			return nil, errclass.New(ErrInvalid, "invalid filter '%s'", k)
		}
		byKey[k] = append(byKey[k], v)
	}
	match := func(e record.Entry, k, v string) bool {
		switch k {
		case "name":
			ok, _ := path.Match("*"+v+"*", e.Record.Name)
			return ok
		case "id":
			return strings.HasPrefix(e.Record.ID, v)
		case "label":
			return match.Label(e.Record.Config.Labels, v)
		case "status":
			return string(e.State.Status) == v
		case "exited":
			n, _ := strconv.Atoi(v)
			return e.State.Status == record.Exited && e.State.ExitCode == n
		case "ancestor":
			return e.Record.Image == v || strings.HasPrefix(e.Record.ImageID, v) || strings.HasPrefix(e.Record.ImageID, "sha256:"+v)
		}
		return false
	}
	return func(e record.Entry) bool {
		for k, values := range byKey {
			any := false
			for _, v := range values {
				if k == "label" {
					if !match(e, k, v) { // every label filter must hold
						return false
					}
					any = true
					continue
				}
				any = any || match(e, k, v)
			}
			if !any {
				return false
			}
		}
		return true
	}, nil
}
