package engine

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/record"
)

// Events calls emit for each change of the project's containers (of
// services, if given) until ctx ends or emit fails: create, start, kill
// (with its signal, for each signal kill and stop sent), die (with its
// exitCode; a run the restart policy follows dies too), stop (after the
// die of a stopped container), pause, unpause, destroy, and
// health_status, from the changes the engine's event source (Events)
// reports.
func (e *Engine) Events(ctx context.Context, project string, services []string, emit func(api.Event) error) error {
	type seen struct {
		m      api.Member
		status record.Status
		health string
		// signals is how many of the run's recorded signals were reported
		signals int
		// started is when the run last reported began
		started time.Time
	}
	known := map[string]*seen{}
	health := func(st record.State) string {
		if st.Health == nil {
			return ""
		}
		return st.Health.Status
	}
	look := func(ent record.Entry) (*api.Member, bool) {
		ms := members([]record.Entry{ent}, project)
		if len(ms) == 0 || len(services) > 0 && !slices.Contains(services, ms[0].Service) {
			return nil, false
		}
		return &ms[0], true
	}
	send := func(m api.Member, action string, more ...string) error {
		// Docker's: the container's labels, its image and name; compose
		// leaves its own labels out
		attrs := map[string]string{"name": m.Record.Name, "image": m.Record.Image}
		for k, v := range m.Record.Config.Labels {
			if !strings.HasPrefix(k, "com.docker.compose.") {
				attrs[k] = v
			}
		}
		for i := 0; i+1 < len(more); i += 2 {
			attrs[more[i]] = more[i+1]
		}
		return emit(api.Event{Time: time.Now(), Type: "container", Action: action, ID: m.Record.ID, Service: m.Service, Attributes: attrs})
	}
	return e.events.Watch(ctx, func(c Change) error {
		if c.Gone {
			if s, was := known[c.ID]; was {
				delete(known, c.ID)
				return send(s.m, "destroy")
			}
			return nil
		}
		m, ok := look(c.Entry)
		if !ok {
			return nil
		}
		if c.Existing {
			known[m.Record.ID] = &seen{*m, m.State.Status, health(m.State), len(m.State.Signals), m.State.StartedAt}
			return nil
		}
		s, was := known[c.ID]
		if !was {
			s = &seen{m: *m, status: record.Created}
			known[c.ID] = s
			if err := send(*m, "create"); err != nil {
				return err
			}
		}
		s.m = *m
		// a run that began and ended between two looks (a command
		// that fails at once) was still started: its start comes
		// before its die
		st := m.State.Status
		if !m.State.StartedAt.IsZero() && !m.State.StartedAt.Equal(s.started) {
			s.started = m.State.StartedAt
			if !m.State.Running() && s.status != record.Running {
				if err := send(*m, "start"); err != nil {
					return err
				}
				s.status = record.Running
			}
		}
		// a start cleared the last run's signals
		if len(m.State.Signals) < s.signals {
			s.signals = 0
		}
		for _, sig := range m.State.Signals[s.signals:] {
			if err := send(*m, "kill", "signal", strconv.Itoa(sig)); err != nil {
				return err
			}
		}
		s.signals = len(m.State.Signals)
		if st != s.status {
			action := map[record.Status]string{record.Running: "start", record.Paused: "pause", record.Created: "create"}[st]
			var more []string
			switch {
			case st == record.Running && s.status == record.Paused:
				action = "unpause"
			case st == record.Exited && s.status == record.Restarting:
				// stopped between two runs: it had died already
			case st == record.Exited || st == record.Restarting:
				// an exit, whether or not the policy restarts it
				action, more = "die", []string{"exitCode", strconv.Itoa(m.State.ExitCode)}
			}
			s.status = st
			if action != "" {
				if err := send(*m, action, more...); err != nil {
					return err
				}
			}
			// Docker's daemon logs a stop once the stopped container died
			if action == "die" && m.State.Stopped {
				if err := send(*m, "stop"); err != nil {
					return err
				}
			}
		}
		if h := health(m.State); h != s.health {
			s.health = h
			if h != "" {
				if err := send(*m, "health_status: "+h); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
