package engine

import (
	"cmp"
	"slices"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/format"
	"github.com/berth-dev/berth/record"
)

// LabelEngine names the engine that runs a container, when one set it.
const LabelEngine = "com.docker.compose.engine"

// PsRow is one container of docker compose ps, under compose's field names
// and types, for --format templates and json. The fields are in
// alphabetical order: compose marshals its row as a map, whose keys come out
// sorted, and scripts that compare the JSON text see the same.
type PsRow struct {
	Command      string
	CreatedAt    string
	Engine       string
	ExitCode     int
	Health       string
	ID           string
	Image        string
	Labels       string
	LocalVolumes string
	Mounts       string
	Name         string
	Names        string
	Networks     string
	Ports        string
	Project      string
	Publishers   []Publisher
	RunningFor   string
	Service      string
	Size         string
	State        string
	Status       string

	labels map[string]string
}

// Publisher is one port of a compose ps row: published (URL and
// PublishedPort set) or only exposed.
type Publisher struct {
	URL           string
	TargetPort    int
	PublishedPort int
	Protocol      string
}

// Label is a template's {{.Label "KEY"}}.
func (r PsRow) Label(name string) string { return r.labels[name] }

// Ps is m as docker compose ps lists it; noTrunc keeps the full ID, command
// and mount names.
func Ps(m api.Member, noTrunc bool) PsRow {
	s := container.Summarize(m.Entry, noTrunc)
	r := PsRow{
		Command: s.Command, CreatedAt: s.CreatedAt, ID: s.ID, Image: s.Image, Labels: s.Labels, LocalVolumes: s.LocalVolumes,
		Mounts: s.Mounts, Name: m.Record.Name, Names: m.Record.Name, Networks: s.Networks, Ports: s.Ports,
		Project: m.Record.Config.Labels[LabelProject], Publishers: []Publisher{}, RunningFor: s.RunningFor, Service: m.Service,
		Size: s.Size, State: s.State, Status: s.Status,
		Engine: m.Record.Config.Labels[LabelEngine], labels: m.Record.Config.Labels,
	}
	// as compose shows them: health while it runs, the code once it ended
	switch m.State.Status {
	case record.Running:
		if m.State.Health != nil {
			r.Health = m.State.Health.Status
		}
	case record.Exited, record.Dead:
		r.ExitCode = m.State.ExitCode
	}
	ports := container.ListedPorts(m.Entry)
	slices.SortStableFunc(ports, func(a, b format.Port) int { return cmp.Compare(a.PrivatePort, b.PrivatePort) })
	for _, p := range ports {
		r.Publishers = append(r.Publishers, Publisher{URL: p.IP, TargetPort: int(p.PrivatePort), PublishedPort: int(p.PublicPort), Protocol: p.Type})
	}
	return r
}
