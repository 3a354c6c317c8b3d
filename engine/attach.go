package engine

import (
	"context"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/proc"
)

// Attach follows the project's containers as an attached `docker compose
// up` does: their logs to c, each exit said, until every container
// followed has stopped. The first interrupt stops the project gracefully
// (each container's stop signal, then SIGKILL after its grace period),
// the second kills it; Attach returns only once the containers it stopped
// have exited, with 130. With Abort, the first container to stop (or,
// with AbortFailure, to fail) stops the rest; the result is then that
// container's exit code, or ExitFrom's. Otherwise it is 0, or ExitFrom's.
//
// The interrupts, not ctx, end an attached up: the CLI's context is
// cancelled by the same Ctrl-C that asks for the graceful stop, which must
// still be waited for.
func (e *Engine) Attach(ctx context.Context, project string, o api.AttachOptions, c api.LogConsumer) (int, error) {
	ctx = context.WithoutCancel(ctx)
	interrupts := o.Interrupts
	if interrupts == nil {
		sigs := make(chan os.Signal, 2)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
		interrupts = sigs
	}
	ms, err := e.Members(ctx, project, o.Services...)
	if err != nil {
		return 0, err
	}
	var names []string
	for _, m := range ms {
		if shown(o, m) {
			names = append(names, m.LogName())
		}
	}
	if len(names) > 0 {
		slices.Sort(names)
		c.Attaching(names)
	}
	for _, m := range ms {
		c.Register(m.LogName())
	}
	type exit struct {
		m    api.Member
		code int
	}
	exits := make(chan exit, 16)
	f := &follower{e: e, c: c, opts: proc.LogOptions{Follow: true, Tail: -1, Timestamps: o.Timestamps}, shown: func(m api.Member) bool { return shown(o, m) },
		exited: func(m api.Member, code int) { exits <- exit{m, code} }}
	fctx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	all := f.run(fctx, project, o.Services, ms)
	// the stop a Ctrl-C or an abort began: waited for before returning
	var stopping sync.WaitGroup
	defer stopping.Wait()
	stopped, interrupted, killed := false, false, false
	code := 0
	for {
		select {
		case <-all:
			stopping.Wait()
			if o.ExitFrom != "" && !interrupted {
				return e.exitCodeOf(ctx, project, o.ExitFrom)
			}
			return code, nil
		case x := <-exits:
			if stopped || !(o.Abort || (o.AbortFailure && x.code != 0)) {
				continue
			}
			stopped, code = true, x.code
			c.Status("Aborting on container exit...")
			stopping.Go(func() { e.Stop(ctx, project, nil, o.Timeout) })
		case <-interrupts:
			if killed {
				continue
			}
			if stopped {
				killed, interrupted, code = true, true, 130
				c.Status("Killing...")
				e.eachMember(ctx, project, nil, func(m api.Member) bool { return m.State.Running() }, "Killed",
					func(m api.Member) error { return e.containers.Kill(ctx, m.Record.ID, "SIGKILL") })
				continue
			}
			stopped, interrupted, code = true, true, 130
			c.Status("Gracefully stopping... (press Ctrl+C again to force)")
			stopping.Go(func() { e.Stop(ctx, project, nil, o.Timeout) })
		}
	}
}

// shown says whether an attached up shows m's logs.
func shown(o api.AttachOptions, m api.Member) bool {
	return !m.Oneoff && (len(o.Attach) == 0 || slices.Contains(o.Attach, m.Service)) && !slices.Contains(o.NoAttach, m.Service)
}

// exitCodeOf is the exit code of the service's first container.
func (e *Engine) exitCodeOf(ctx context.Context, project, service string) (int, error) {
	ms, err := e.Members(ctx, project, service)
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	return ms[0].State.ExitCode, nil
}
