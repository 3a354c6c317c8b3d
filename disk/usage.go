package disk

import (
	"io/fs"
	"path/filepath"
)

// Usage is what one kind of object (images, containers, volumes) takes on
// disk, as docker system df counts it.
type Usage struct {
	// Total are the objects, Active those in use.
	Total, Active int
	// Size is what they take, in bytes; Reclaimable what the unused ones
	// take (at most Size).
	Size, Reclaimable int64
}

// Size is what the files under dir take, in bytes: the sum of their
// sizes, what cannot be read counting nothing, as docker system df does.
func Size(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// Add counts one object of size bytes, in use (active) or not.
func (u *Usage) Add(size int64, active bool) {
	u.Total++
	u.Size += size
	if active {
		u.Active++
	} else {
		u.Reclaimable += size
	}
}
