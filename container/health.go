package container

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
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

// probe runs the healthcheck's test once in the container, as exec does,
// with its timeout, and returns the result.
func probe(ctx context.Context, rt *runtime.Runtime, rec record.Record, h record.Healthcheck) record.HealthResult {
	res := record.HealthResult{Start: time.Now().UTC()}
	args := h.Test[1:]
	if h.Test[0] == "CMD-SHELL" {
		args = []string{"/bin/sh", "-c", strings.Join(h.Test[1:], " ")}
	}
	finish := func(code int, out string) record.HealthResult {
		res.End, res.ExitCode = time.Now().UTC(), code
		if len(out) > 4096 {
			out = out[:4096] // Docker keeps 4 KiB of output
		}
		res.Output = out
		return res
	}
	r, w, err := os.Pipe()
	if err != nil {
		return finish(-1, err.Error())
	}
	defer r.Close()
	p, _, err := rt.Exec(rec.ID, runtime.Exec{Args: args, Env: rec.Config.Env, Cwd: rec.Config.WorkingDir,
		UID: rec.Spec.Process.UID, GID: rec.Spec.Process.GID, Groups: rec.Spec.Process.AdditionalGIDs}, runtime.IO{Stdout: w, Stderr: w})
	w.Close()
	if err != nil {
		return finish(-1, err.Error())
	}
	var out bytes.Buffer
	read := make(chan struct{})
	go func() { out.ReadFrom(r); close(read) }()
	type exit struct{ code int }
	done := make(chan exit, 1)
	go func() { code, _ := p.Wait(); done <- exit{code} }()
	timeout := cmp.Or(h.Timeout, 30*time.Second)
	select {
	case e := <-done:
		<-read
		return finish(e.code, out.String())
	case <-time.After(timeout):
		p.Signal(syscall.SIGKILL)
		<-done
		return finish(-1, fmt.Sprintf("Health check exceeded timeout (%v)", timeout))
	case <-ctx.Done():
		p.Signal(syscall.SIGKILL)
		<-done
		return finish(-1, "container stopped")
	}
}

// Probe runs the container's healthcheck once and records the result in
// its state with Docker's rules: starting until the first success; healthy
// after a success; unhealthy after Retries failures in a row, where
// failures within the start period do not count. It returns the wait before
// the next probe: the interval, or start_interval during the start period.
// It is the body of the hidden "berth __probe" command, which the monitor
// runs as a child of its own, so that what enters the container stays out
// of the process that waits for it (package shim).
func Probe(ctx context.Context, root, id string) (time.Duration, error) {
	s, err := record.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		return 0, err
	}
	e, err := s.Get(id)
	if err != nil {
		return 0, err
	}
	if e.Record.Health == nil {
		return 0, errclass.New(ErrInvalid, "container %s has no healthcheck", e.Record.Name)
	}
	rt, err := runtime.New(RunDir(root))
	if err != nil {
		return 0, err
	}
	h := *e.Record.Health
	started := e.State.StartedAt
	res := probe(ctx, rt, e.Record, h)
	// failures while starting up do not count
	inStart := res.End.Sub(started) < h.StartPeriod
	_, err = s.Update(ctx, id, func(st *record.State) error {
		if !st.Running() || st.Pid != e.State.Pid {
			return nil // it ended meanwhile: no result for a run that is over
		}
		health := record.Health{Status: record.Starting}
		if st.Health != nil {
			health = *st.Health
			health.Log = slices.Clone(health.Log)
		}
		health.Log = append(health.Log, res)
		if len(health.Log) > 5 {
			health.Log = health.Log[len(health.Log)-5:]
		}
		switch {
		case res.ExitCode == 0:
			health.Status, health.FailingStreak = record.Healthy, 0
		case inStart:
		default:
			health.FailingStreak++
			if health.FailingStreak >= cmp.Or(h.Retries, 3) {
				health.Status = record.Unhealthy
			}
		}
		st.Health = &health
		return nil
	})
	return healthWait(h, started, time.Now()), err
}

// healthWait is the wait before a probe: the interval, or start_interval
// during the start period (Docker's defaults: 30 s and 5 s).
func healthWait(h record.Healthcheck, started, now time.Time) time.Duration {
	if now.Sub(started) < h.StartPeriod {
		return cmp.Or(h.StartInterval, 5*time.Second)
	}
	return cmp.Or(h.Interval, 30*time.Second)
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
