package format

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Processes writes docker top's table: ps's titles, then a process a row.
func Processes(w io.Writer, titles []string, procs [][]string) error {
	tw := tabwriter.NewWriter(w, 20, 1, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	for _, p := range procs {
		fmt.Fprintln(tw, strings.Join(p, "\t"))
	}
	return tw.Flush()
}

// ContainerTop is the processes of one container of a service.
type ContainerTop struct {
	Service, Replica string
	Titles           []string
	Processes        [][]string
}

// ComposeTop writes docker compose top's one table: every container's
// processes, led by SERVICE and # (the replica), with each title ps gave
// any container (a container that lacks one shows "-") and CMD last.
// Nothing at all when no process runs.
func ComposeTop(w io.Writer, tops []ContainerTop) error {
	titles := []string{"SERVICE", "#"}
	type row map[string]string
	var rows []row
	for _, c := range tops {
		for _, p := range c.Processes {
			r := row{"SERVICE": c.Service, "#": c.Replica}
			for i, t := range c.Titles {
				if !slices.Contains(titles, t) {
					titles = append(titles, t)
				}
				if i < len(p) {
					r[t] = p[i]
				}
			}
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if i := slices.Index(titles, "CMD"); i >= 0 {
		titles = append(slices.Delete(titles, i, i+1), "CMD")
	}
	tw := tabwriter.NewWriter(w, 4, 1, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	for _, r := range rows {
		cells := make([]string, len(titles))
		for i, t := range titles {
			v, ok := r[t]
			if !ok {
				v = "-"
			}
			cells[i] = v
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
