package main

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/netns"
)

func TestPruneFilter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	old := netns.Network{Name: "old", Created: now.Add(-48 * time.Hour), Labels: map[string]string{"keep": "yes"}}
	fresh := netns.Network{Name: "fresh", Created: now.Add(-time.Hour), Labels: map[string]string{"tier": "web"}}
	for _, c := range []struct {
		filters []string
		want    string // the networks kept, in order
	}{
		{nil, "old fresh"},
		{[]string{"until=24h"}, "old"},
		{[]string{"until=2026-11-21"}, "old"},
		{[]string{"until=1800000000"}, "old fresh"},
		{[]string{"label=tier"}, "fresh"},
		{[]string{"label=tier=db"}, ""},
		{[]string{"label!=keep"}, "fresh"},
		{[]string{"label!=keep=no"}, "old fresh"},
	} {
		keep, err := pruneFilter(c.filters, now)
		if err != nil {
			t.Fatalf("%v: %v", c.filters, err)
		}
		got := ""
		for _, n := range []netns.Network{old, fresh} {
			if keep(n) {
				got += " " + n.Name
			}
		}
		if got != " "+c.want && !(got == "" && c.want == "") {
			t.Errorf("%v kept %q, want %q", c.filters, got, c.want)
		}
	}
	for _, bad := range []string{"until=yesterday", "driver=bridge", "label"} {
		if _, err := pruneFilter([]string{bad}, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
