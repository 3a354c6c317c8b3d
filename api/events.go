package api

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Event is one change of a project's container, in the shape of docker
// compose events --json (whose keys come out sorted: compose marshals a
// map).
type Event struct {
	Action     string            `json:"action"`
	Attributes map[string]string `json:"attributes"`
	ID         string            `json:"id"`
	Service    string            `json:"service"`
	Time       time.Time         `json:"time"`
	Type       string            `json:"type"`
}

// String is the event as docker compose events prints it: when, the
// action, the container and its attributes.
func (e Event) String() string {
	var attrs []string
	for _, k := range slices.Sorted(maps.Keys(e.Attributes)) {
		attrs = append(attrs, k+"="+e.Attributes[k])
	}
	return fmt.Sprintf("%s container %s %s (%s)", e.Time.Format("2006-01-02 15:04:05.000000"), e.Action, e.ID, strings.Join(attrs, ", "))
}

// LogConsumer receives what `logs` and an attached `up` show, as docker
// compose's api.LogConsumer does: the backend decides what is followed
// and when it ends; the consumer only prints. Its methods may be called
// from several goroutines at once, and must not mix one line into
// another.
type LogConsumer interface {
	// Register names a container before its first line: a consumer that
	// aligns prefixes learns the widest name from it.
	Register(name string)
	// Log is one line of the container's output, without its newline.
	Log(name, line string)
	// Exited says that a run of the container ended with code: every
	// run an attached up follows, restarts included.
	Exited(name string, code int)
	// Attaching names, once, the containers whose logs an attached up
	// shows ("Attaching to ...").
	Attaching(names []string)
	// Status is a line of an attached up's own ("Gracefully
	// stopping..."), not a container's.
	Status(line string)
}
