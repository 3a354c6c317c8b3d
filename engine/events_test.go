package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/record"
)

// TestEventsFromChanges: the changes an event source reports become
// docker compose's events for the project's containers: none for what
// was there before, create, start, kill with its signal, die with its
// exit code and stop for a stopped one, destroy; other projects' and
// other services' containers are left out.
func TestEventsFromChanges(t *testing.T) {
	entry := func(project, service string, st record.State) record.Entry {
		name := project + "-" + service + "-1"
		return record.Entry{Record: record.Record{ID: name, Name: name, Image: "x",
			Config: record.Config{Labels: map[string]string{LabelProject: project, LabelService: service, LabelNumber: "1"}}}, State: st}
	}
	start := time.Now()
	running := record.State{Status: record.Running, StartedAt: start}
	killed := record.State{Status: record.Running, StartedAt: start, Signals: []int{15}}
	stopped := record.State{Status: record.Exited, StartedAt: start, Signals: []int{15}, ExitCode: 143, Stopped: true}
	src := changes{
		{ID: "p-old-1", Entry: entry("p", "old", running), Existing: true},
		{ID: "p-web-1", Entry: entry("p", "web", record.State{Status: record.Created})},
		{ID: "q-web-1", Entry: entry("q", "web", running)},
		{ID: "p-db-1", Entry: entry("p", "db", running)},
		{ID: "p-web-1", Entry: entry("p", "web", running)},
		{ID: "p-web-1", Entry: entry("p", "web", killed)},
		{ID: "p-web-1", Entry: entry("p", "web", stopped)},
		{ID: "p-web-1", Gone: true},
		{ID: "q-web-1", Gone: true},
	}
	e := &Engine{root: t.TempDir(), events: src}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got []string
	err := e.Events(ctx, "p", []string{"web", "old"}, func(ev api.Event) error {
		s := fmt.Sprintf("%s %s", ev.Action, ev.ID)
		for _, k := range []string{"signal", "exitCode"} {
			if v, ok := ev.Attributes[k]; ok {
				s += " " + k + "=" + v
			}
		}
		got = append(got, s)
		if ev.Action == "destroy" {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"create p-web-1", "start p-web-1", "kill p-web-1 signal=15", "die p-web-1 exitCode=143", "stop p-web-1", "destroy p-web-1"}
	if !slices.Equal(got, want) {
		t.Errorf("events: %q, want %q", got, want)
	}
}
