package engine

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/record"
)

// Logs gives c the logs of the project's containers (of services, if
// given), one container after another as compose prints them; with
// Follow, each as it comes, those that start meanwhile included, until
// every container followed has ended or ctx ends.
func (e *Engine) Logs(ctx context.Context, project string, services []string, o api.LogsOptions, c api.LogConsumer) error {
	ms, err := e.Members(ctx, project, services...)
	if err != nil {
		return err
	}
	if o.Index > 0 {
		ms = slices.DeleteFunc(ms, func(m api.Member) bool { return m.Number != o.Index || m.Oneoff })
	}
	for _, m := range ms {
		c.Register(m.LogName())
	}
	if o.Follow {
		f := &follower{e: e, opts: o.LogOptions, c: c}
		select {
		case <-f.run(ctx, project, services, ms):
		case <-ctx.Done():
		}
		return ctx.Err()
	}
	var errs []error
	for _, m := range ms {
		w := &lineWriter{name: m.LogName(), c: c}
		errs = append(errs, e.processes.Logs(ctx, m.Record.ID, o.LogOptions, w, w))
		w.flush()
	}
	return errors.Join(errs...)
}

// follower follows the logs of a project's containers, for an attached
// up and for logs -f: the containers it starts with and, as Events reports
// their start, those that start later (a scale, a recreation). A
// container is followed until it has ended for good (its restarts
// included), and run's channel is closed once every container followed
// has.
type follower struct {
	e    *Engine
	opts proc.LogOptions // Follow set
	c    api.LogConsumer
	// shown says whose lines go to c; nil: everyone's. The others are
	// followed all the same, for their exits.
	shown func(api.Member) bool
	// exited, when set, makes the follower report each container's end
	// to c and then hands it the code.
	exited func(m api.Member, code int)

	mu       sync.Mutex
	followed map[string]bool
	active   int
	finished func()
}

// run follows ms and the project's containers (of services, if given)
// that start from now on, until ctx ends.
func (f *follower) run(ctx context.Context, project string, services []string, ms []api.Member) <-chan struct{} {
	all := make(chan struct{})
	f.followed, f.finished = map[string]bool{}, sync.OnceFunc(func() { close(all) })
	for _, m := range ms {
		f.follow(ctx, m)
	}
	f.mu.Lock()
	if f.active == 0 {
		f.finished()
	}
	f.mu.Unlock()
	go f.e.Events(ctx, project, services, func(ev api.Event) error {
		if ev.Action != "start" && (ev.Action != "die" || f.exited == nil) {
			return nil
		}
		now, err := f.e.Members(ctx, project, ev.Service)
		if err != nil {
			return nil
		}
		for _, m := range now {
			switch {
			case m.Record.ID != ev.ID:
			case ev.Action == "start":
				f.follow(ctx, m)
			case f.isFollowed(m) && (m.State.Status == record.Restarting || m.State.Running()):
				// a run that the restart policy follows with another:
				// its end is said too, as compose's up says each (the
				// last one's, once it has stopped, by follow)
				code, _ := strconv.Atoi(ev.Attributes["exitCode"])
				f.c.Exited(m.LogName(), code)
			}
		}
		return nil
	})
	return all
}

func (f *follower) isFollowed(m api.Member) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.followed[m.Record.ID]
}

func (f *follower) follow(ctx context.Context, m api.Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.Oneoff || f.followed[m.Record.ID] {
		return
	}
	f.followed[m.Record.ID] = true
	f.active++
	f.c.Register(m.LogName())
	w := &lineWriter{name: m.LogName(), c: f.c, drop: f.shown != nil && !f.shown(m)}
	go func() {
		f.e.processes.Logs(ctx, m.Record.ID, f.opts, w, w)
		w.flush()
		if f.exited != nil {
			if code, err := f.e.containers.Wait(ctx, m.Record.ID); err == nil {
				f.c.Exited(m.LogName(), code)
				f.exited(m, code)
			}
		}
		f.mu.Lock()
		if f.active--; f.active == 0 {
			f.finished()
		}
		f.mu.Unlock()
	}()
}

// lineWriter hands a container's output to a consumer line by line.
type lineWriter struct {
	name    string
	c       api.LogConsumer
	drop    bool
	pending []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.pending = append(w.pending, b...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			return len(b), nil
		}
		if !w.drop {
			w.c.Log(w.name, string(w.pending[:i]))
		}
		w.pending = w.pending[i+1:]
	}
}

// flush gives a last line that had no newline.
func (w *lineWriter) flush() {
	if len(w.pending) > 0 {
		w.Write([]byte("\n"))
	}
}
