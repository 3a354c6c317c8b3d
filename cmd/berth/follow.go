package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/format"
)

// follower streams the logs of a project's containers with compose's
// prefixes, for an attached up and for logs -f: the containers it starts
// with and, as engine.Events reports their start, those that start later
// (a scale, a recreation). A container is followed until it has ended for
// good (its restarts included), and run's channel is closed once every
// container followed has.
type follower struct {
	g             *globals
	e             *engine.Engine
	opts          container.LogOptions // Follow set
	color, prefix bool
	width         int
	// shown says whose logs are printed; nil: everyone's. The others are
	// followed all the same, for their exits.
	shown func(engine.Member) bool
	// exited, when set, makes the follower say each container's end
	// ("NAME exited with code N", as compose's up does) and then hands it
	// the code.
	exited func(m engine.Member, code int)

	out      sync.Mutex // the lines of several containers never mix
	mu       sync.Mutex
	followed map[string]bool
	active   int
	finished func()
}

// run follows ms and the project's containers (of services, if given)
// that start from now on, until ctx ends. The channel it returns is
// closed when every container followed has ended.
func (f *follower) run(ctx context.Context, project string, services []string, ms []engine.Member) <-chan struct{} {
	all := make(chan struct{})
	f.followed, f.finished = map[string]bool{}, sync.OnceFunc(func() { close(all) })
	for _, m := range ms {
		f.width = max(f.width, len(logName(m)))
	}
	for _, m := range ms {
		f.follow(ctx, m)
	}
	f.mu.Lock()
	if f.active == 0 {
		f.finished()
	}
	f.mu.Unlock()
	go f.e.Events(ctx, project, services, func(ev engine.Event) error {
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
			case f.isFollowed(m) && (m.State.Status == container.Restarting || m.State.Running()):
				// a run that the restart policy follows with another:
				// its end is said too, as compose's up says each (the
				// last one's, once it has stopped, by follow)
				code, _ := strconv.Atoi(ev.Attributes["exitCode"])
				f.sayExit(m, code)
			}
		}
		return nil
	})
	return all
}

func (f *follower) isFollowed(m engine.Member) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.followed[m.Record.ID]
}

func (f *follower) follow(ctx context.Context, m engine.Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.Oneoff || f.followed[m.Record.ID] {
		return
	}
	i := len(f.followed)
	f.followed[m.Record.ID] = true
	f.active++
	f.width = max(f.width, len(logName(m)))
	w := &prefixWriter{out: f.g.stdout, mu: &f.out}
	if f.prefix {
		w.prefix = colored(format.LogPrefix(logName(m), f.width), i, f.color)
	}
	var sink io.Writer = w
	if f.shown != nil && !f.shown(m) {
		sink = io.Discard
	}
	go func() {
		f.e.Containers.Logs(ctx, m.Record.ID, f.opts, sink, sink)
		w.flush()
		if f.exited != nil {
			code, _ := f.e.Containers.Wait(ctx, m.Record.ID)
			f.sayExit(m, code)
			f.exited(m, code)
		}
		f.mu.Lock()
		if f.active--; f.active == 0 {
			f.finished()
		}
		f.mu.Unlock()
	}()
}

// sayExit prints a container's end between its lines and the others'.
func (f *follower) sayExit(m engine.Member, code int) {
	f.out.Lock()
	defer f.out.Unlock()
	fmt.Fprintf(f.g.stdout, "%s exited with code %d\n", logName(m), code)
}

// logName is how compose names a container in log prefixes: service-N,
// or its container_name.
func logName(m engine.Member) string {
	if m.Oneoff || m.Number == 0 {
		return m.Record.Name
	}
	if m.Record.Name != "" && !strings.HasSuffix(m.Record.Name, fmt.Sprintf("-%s-%d", m.Service, m.Number)) {
		return m.Record.Name // container_name
	}
	return fmt.Sprintf("%s-%d", m.Service, m.Number)
}

// colored wraps s in the ith of compose's prefix colours.
func colored(s string, i int, on bool) string {
	if !on {
		return s
	}
	colors := []int{36, 33, 32, 35, 34, 96, 93, 92, 95, 94}
	return fmt.Sprintf("\x1b[%dm%s\x1b[0m", colors[i%len(colors)], s)
}

// prefixWriter writes whole lines, each after a prefix, to a shared
// output: the lines of several containers interleave but never mix.
type prefixWriter struct {
	out     io.Writer
	mu      *sync.Mutex
	prefix  string
	pending []byte
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.pending = append(w.pending, b...)
	for {
		i := strings.IndexByte(string(w.pending), '\n')
		if i < 0 {
			return len(b), nil
		}
		w.mu.Lock()
		_, err := fmt.Fprintf(w.out, "%s%s", w.prefix, w.pending[:i+1])
		w.mu.Unlock()
		w.pending = w.pending[i+1:]
		if err != nil {
			return len(b), err
		}
	}
}

// flush writes a last line that had no newline.
func (w *prefixWriter) flush() {
	if len(w.pending) > 0 {
		w.Write([]byte("\n"))
	}
}
