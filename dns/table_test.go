package dns

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// TestSweep: entries of containers that are gone go, on every network,
// temporary files included; the others stay.
func TestSweep(t *testing.T) {
	dir := t.TempDir()
	for _, e := range []Entry{
		{Network: "a", Container: "live", Names: []string{"web"}, Address: netip.MustParseAddr("10.0.0.2")},
		{Network: "a", Container: "dead", Names: []string{"web"}, Address: netip.MustParseAddr("10.0.0.3")},
		{Network: "b", Container: "dead", Names: []string{"db"}, Address: netip.MustParseAddr("10.0.1.3")},
	} {
		if err := WriteEntry(dir, e); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "b", "dead.json.tmp"), []byte("{"), 0o644)
	Sweep(dir, func(id string) bool { return id == "live" })
	left, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
	if len(left) != 1 || filepath.Base(left[0]) != "live.json" {
		t.Errorf("entries after the sweep: %v, want a/live.json alone", left)
	}
}
