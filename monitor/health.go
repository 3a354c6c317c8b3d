package monitor

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
)

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
		return 0, errclass.New(record.ErrInvalid, "container %s has no healthcheck", e.Record.Name)
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
