package match

import "strings"

// One finds ref among items, whose names and IDs name and id give. count
// is 1 when found, 0 when nothing matches and more when an ID prefix is
// ambiguous.
func One[T any](items []T, ref string, name, id func(T) string) (found T, count int) {
	for _, it := range items {
		if name(it) == ref || id(it) == ref {
			return it, 1
		}
	}
	if ref == "" {
		return found, 0
	}
	for _, it := range items {
		if strings.HasPrefix(id(it), ref) {
			found = it
			count++
		}
	}
	if count > 1 {
		var zero T
		return zero, count
	}
	return found, count
}

// Label reports whether labels satisfy a Docker label filter's value:
// KEY (present) or KEY=VALUE.
func Label(labels map[string]string, filter string) bool {
	k, v, hasValue := strings.Cut(filter, "=")
	got, ok := labels[k]
	return ok && (!hasValue || got == v)
}
