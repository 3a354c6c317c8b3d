package match

import "testing"

type obj struct{ name, id string }

func TestOne(t *testing.T) {
	items := []obj{{"web", "abc123"}, {"db", "abd456"}, {"abc", "fff000"}}
	name := func(o obj) string { return o.name }
	id := func(o obj) string { return o.id }
	for ref, want := range map[string]struct {
		name  string
		count int
	}{
		"web": {"web", 1}, "abd456": {"db", 1}, "abd": {"db", 1},
		"abc": {"abc", 1}, // a name beats another object's ID prefix
		"ab":  {"", 2}, "zzz": {"", 0}, "": {"", 0},
	} {
		got, n := One(items, ref, name, id)
		if got.name != want.name || n != want.count {
			t.Errorf("%q: %q, %d; want %q, %d", ref, got.name, n, want.name, want.count)
		}
	}
}
