package engine

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/berth-dev/berth/container"
)

// Event is one change of a project's container, in the shape of docker
// compose events --json.
type Event struct {
	Time       time.Time         `json:"time"`
	Type       string            `json:"type"`
	Action     string            `json:"action"`
	ID         string            `json:"id"`
	Service    string            `json:"service"`
	Attributes map[string]string `json:"attributes"`
}

// Events calls emit for each change of the project's containers (of
// services, if given) until ctx ends or emit fails: create, start, die,
// pause, unpause, destroy, and health_status. It watches the containers'
// state files with fsnotify; no daemon sends them.
func (e *Engine) Events(ctx context.Context, project string, services []string, emit func(Event) error) error {
	dir := filepath.Join(e.root, "containers")
	os.MkdirAll(dir, 0o700)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		return err
	}
	type seen struct {
		m      Member
		status container.Status
		health string
	}
	known := map[string]*seen{}
	health := func(st container.State) string {
		if st.Health == nil {
			return ""
		}
		return st.Health.Status
	}
	look := func(id string) (*Member, bool) {
		ent, err := e.Containers.Store.Get(id)
		if err != nil {
			return nil, false
		}
		ms := members([]container.Entry{ent}, project)
		if len(ms) == 0 || len(services) > 0 && !slices.Contains(services, ms[0].Service) {
			return nil, false
		}
		return &ms[0], true
	}
	send := func(m Member, action string) error {
		return emit(Event{Time: time.Now().UTC(), Type: "container", Action: action, ID: m.Record.ID, Service: m.Service,
			Attributes: map[string]string{"name": m.Record.Name, "image": m.Record.Image}})
	}
	entries, _ := os.ReadDir(dir)
	for _, d := range entries {
		w.Add(filepath.Join(dir, d.Name()))
		if m, ok := look(d.Name()); ok {
			known[m.Record.ID] = &seen{*m, m.State.Status, health(m.State)}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-w.Errors:
			return err
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			id := filepath.Base(filepath.Dir(ev.Name))
			if filepath.Dir(ev.Name) == dir {
				id = filepath.Base(ev.Name)
				if ev.Has(fsnotify.Create) {
					w.Add(ev.Name)
				}
			}
			m, ok := look(id)
			if !ok {
				if s, was := known[id]; was {
					if _, err := os.Stat(filepath.Join(dir, id)); err != nil {
						delete(known, id)
						if err := send(s.m, "destroy"); err != nil {
							return err
						}
					}
				}
				continue
			}
			s, was := known[id]
			if !was {
				s = &seen{m: *m, status: container.Created}
				known[id] = s
				if err := send(*m, "create"); err != nil {
					return err
				}
			}
			s.m = *m
			if st := m.State.Status; st != s.status {
				action := map[container.Status]string{container.Running: "start", container.Exited: "die", container.Paused: "pause",
					container.Restarting: "restart", container.Created: "create"}[st]
				if st == container.Running && s.status == container.Paused {
					action = "unpause"
				}
				s.status = st
				if action != "" {
					if err := send(*m, action); err != nil {
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
		}
	}
}
