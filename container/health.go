package container

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/record"
)

// imageHealthcheck is the image's HEALTHCHECK, none for NONE.
func imageHealthcheck(h *v1.HealthConfig) *record.Healthcheck {
	if h == nil || len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil
	}
	return &record.Healthcheck{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
}

// mergeHealth is the image's healthcheck with the user's settings over it,
// as Docker merges them: a user test replaces the image's, and zero
// durations keep the image's.
func mergeHealth(image, user *record.Healthcheck, off bool) *record.Healthcheck {
	if off || (user != nil && len(user.Test) > 0 && user.Test[0] == "NONE") {
		return nil
	}
	if user == nil {
		return image
	}
	h := *user
	if image != nil {
		if len(h.Test) == 0 {
			h.Test = image.Test
		}
		h.Interval = cmp.Or(h.Interval, image.Interval)
		h.Timeout = cmp.Or(h.Timeout, image.Timeout)
		h.StartPeriod = cmp.Or(h.StartPeriod, image.StartPeriod)
		h.StartInterval = cmp.Or(h.StartInterval, image.StartInterval)
		h.Retries = cmp.Or(h.Retries, image.Retries)
	}
	if len(h.Test) == 0 {
		return nil
	}
	return &h
}

// ParseHealthTest reads a test as compose and --health-cmd give it: a list
// starting with CMD, CMD-SHELL or NONE, or a shell command.
func ParseHealthTest(test []string) ([]string, error) {
	if len(test) == 0 {
		return nil, nil
	}
	switch test[0] {
	case "NONE":
		return test[:1], nil
	case "CMD", "CMD-SHELL":
		if len(test) < 2 {
			return nil, errclass.New(ErrInvalid, "healthcheck test %v has no command", test)
		}
		return test, nil
	}
	return []string{"CMD-SHELL", strings.Join(test, " ")}, nil
}

// ErrUnhealthy: a container turned unhealthy, or exited, while something
// waited for it to be healthy.
var ErrUnhealthy = errclass.Sentinel(errclass.ErrFailed, "unhealthy")

// WaitHealthy waits for the container to be healthy, and fails when it
// turns unhealthy (with its last probe's output) or stops, or has no
// healthcheck. It watches the container's state file for changes rather
// than polling.
func (m *Manager) WaitHealthy(ctx context.Context, ref string) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	if e.Record.Health == nil {
		return errclass.New(ErrInvalid, "container %s has no healthcheck configured", e.Record.Name)
	}
	return m.Store.Watch(ctx, e.Record.ID, func(st record.State) (bool, error) {
		switch {
		case st.Health != nil && st.Health.Status == record.Healthy && st.Running():
			return true, nil
		case st.Health != nil && st.Health.Status == record.Unhealthy:
			last := ""
			if n := len(st.Health.Log); n > 0 {
				last = strings.TrimSpace(st.Health.Log[n-1].Output)
			}
			return false, errclass.New(ErrUnhealthy, "container %s is unhealthy: %s", e.Record.Name, last)
		case st.Status == record.Exited || st.Status == record.Dead:
			return false, errclass.New(ErrUnhealthy, "container %s exited (%d)", e.Record.Name, st.ExitCode)
		}
		return false, nil
	})
}

// WaitRunning waits for the container to have run for settle since its
// start, and fails when it exits before that (with a non-zero code; a
// zero exit counts as done, for one-shot services). The window exists
// because a process that cannot start (a missing file, a bad flag)
// usually exits within moments of its start: docker compose's --wait
// looks at the container first after half a second, so it reports those
// too. The exit is awaited on the state file; only the window's end is a
// timer.
func (m *Manager) WaitRunning(ctx context.Context, ref string, settle time.Duration) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	var ready bool
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err = m.Store.Watch(wctx, e.Record.ID, func(st record.State) (bool, error) {
		switch {
		case st.Status == record.Exited || st.Status == record.Dead:
			if st.ExitCode == 0 {
				return true, nil
			}
			return false, errclass.New(ErrUnhealthy, "container %s exited (%d)", e.Record.Name, st.ExitCode)
		case st.Status == record.Running:
			if time.Since(st.StartedAt) >= settle {
				return true, nil
			}
			// the first sight of it running starts the window's timer;
			// a later state change (an exit) still ends the watch
			if !ready {
				ready = true
				time.AfterFunc(settle-time.Since(st.StartedAt), cancel)
			}
		}
		return false, nil
	})
	if errors.Is(err, context.Canceled) && ready && ctx.Err() == nil {
		// the window ended with the container still running
		return nil
	}
	return err
}
