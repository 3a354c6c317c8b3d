package container

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	units "github.com/docker/go-units"

	"github.com/berth-dev/berth/format"
	"github.com/berth-dev/berth/record"
)

// Summary is one container of docker ps, under Docker's field names, for
// --format templates and json. The fields are in alphabetical order: Docker
// marshals its row as a map, whose keys come out sorted, and scripts that
// compare the JSON text see the same.
type Summary struct {
	Command      string
	CreatedAt    string
	ID           string
	Image        string
	Labels       string
	LocalVolumes string
	Mounts       string
	Names        string
	Networks     string
	Ports        string
	RunningFor   string
	Size         string
	State        string
	Status       string

	labels map[string]string
}

// Label is a template's {{.Label "KEY"}}: one label's value, "" when the
// container has none by that name.
func (s Summary) Label(name string) string { return s.labels[name] }

// Summarize is e as docker ps lists it; noTrunc keeps the full ID, command
// and mount names.
func Summarize(e record.Entry, noTrunc bool) Summary {
	id := e.Record.ID
	if !noTrunc {
		id = id[:min(12, len(id))]
	}
	mounts := MountNames(e.Record)
	if !noTrunc {
		for i, m := range mounts {
			mounts[i] = format.Ellipsis(m, 15)
		}
	}
	var labels []string
	for k, v := range e.Record.Config.Labels {
		labels = append(labels, k+"="+v)
	}
	slices.Sort(labels)
	return Summary{
		Command:      format.QuotedCommand(e.Record.Path, e.Record.Args, noTrunc),
		CreatedAt:    e.Record.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		ID:           id,
		Image:        e.Record.Image,
		Labels:       strings.Join(labels, ","),
		LocalVolumes: fmt.Sprint(len(e.Record.Volumes)),
		Mounts:       strings.Join(mounts, ","),
		Names:        e.Record.Name,
		Networks:     strings.Join(NetworkNames(e.Record), ","),
		Ports:        format.Ports(ListedPorts(e)),
		RunningFor:   units.HumanDuration(time.Since(e.Record.Created)) + " ago",
		Size:         format.Size(0, 0),
		State:        string(e.State.Status),
		Status:       StatusText(e.State),
		labels:       e.Record.Config.Labels,
	}
}

// ListedPorts are the container's ports as Docker's container list gives
// them: while it runs, each published binding and each port it exposes but
// does not publish; none once it has stopped, nor on another's network.
func ListedPorts(e record.Entry) []format.Port {
	if !e.State.Running() || e.Record.Host.HostNetwork || e.Record.Host.NetworkContainer != "" {
		return nil
	}
	var out []format.Port
	for _, b := range e.State.Ports {
		ip := "0.0.0.0"
		if b.HostIP.IsValid() {
			ip = b.HostIP.String()
		}
		out = append(out, format.Port{IP: ip, PrivatePort: b.Port, PublicPort: b.HostPort, Type: b.Proto})
	}
	for _, p := range e.Record.Config.ExposedPorts {
		num, proto, _ := strings.Cut(p, "/")
		var n uint16
		if _, err := fmt.Sscan(num, &n); err != nil {
			continue
		}
		proto = cmp.Or(proto, "tcp")
		if !slices.ContainsFunc(out, func(q format.Port) bool { return q.PrivatePort == n && q.Type == proto }) {
			out = append(out, format.Port{PrivatePort: n, Type: proto})
		}
	}
	return out
}

// StatusText is Docker's STATUS column: "Up 5 minutes", "Exited (0) 2
// seconds ago".
func StatusText(st record.State) string {
	switch st.Status {
	case record.Running:
		if h := st.Health; h != nil {
			status := h.Status
			if status == record.Starting {
				status = "health: starting"
			}
			return "Up " + units.HumanDuration(time.Since(st.StartedAt)) + " (" + status + ")"
		}
		return "Up " + units.HumanDuration(time.Since(st.StartedAt))
	case record.Paused:
		return "Up " + units.HumanDuration(time.Since(st.StartedAt)) + " (Paused)"
	case record.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
	case record.Exited:
		if st.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", st.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
	case record.Created:
		return "Created"
	}
	return string(st.Status)
}
