package api

import (
	"fmt"
	"strings"

	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/record"
)

// Member is one container of a project, as its labels say.
type Member struct {
	record.Entry
	Service string
	Number  int
	Oneoff  bool
	// Hash is the service's configuration hash when it was created.
	Hash string
}

// LogName is how compose names a container in log prefixes and exit
// lines: service-N, its container_name, or a one-off's name.
func (m Member) LogName() string {
	if m.Oneoff || m.Number == 0 {
		return m.Record.Name
	}
	if m.Record.Name != "" && !strings.HasSuffix(m.Record.Name, fmt.Sprintf("-%s-%d", m.Service, m.Number)) {
		return m.Record.Name // container_name
	}
	return fmt.Sprintf("%s-%d", m.Service, m.Number)
}

// ContainerTop is one running container's processes, for top.
type ContainerTop struct {
	Member
	proc.Processes
}

// Stack is one compose project, as compose ls lists it.
type Stack struct {
	Name string
	// Status counts the containers by status, as compose ls shows it:
	// "running(2), exited(1)", the statuses in the order of their names;
	// only the running ones unless every container was asked for.
	Status string
	// ConfigFiles are the compose files the project was made from, as
	// its containers' labels say.
	ConfigFiles string
}
