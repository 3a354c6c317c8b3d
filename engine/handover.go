package engine

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/errclass"
)

// A recreated container's anonymous volumes go to its successor: the
// predecessor is removed keeping them, then the successor is made with
// them at the same targets. An up killed between the two would leave
// volumes no container names, which down -v could not find, and the next
// up would make fresh ones, the data out of reach. So the handover is
// written first, <root>/projects/<project>/handover/<container>.json
// (target to volume), and removed once the successor exists: the next up
// that creates that container takes the volumes from it, and down -v
// removes what it still names.

func (e *Engine) handoverPath(project, name string) string {
	return filepath.Join(e.root, "projects", project, "handover", name+".json")
}

// handOver records that container name's anonymous volumes (target to
// volume) go to its successor.
func (e *Engine) handOver(project, name string, anon map[string]string) error {
	path := e.handoverPath(project, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, _ := json.Marshal(anon)
	return disk.WriteFile(path, data, 0o600)
}

// handedOver is what a recreation cut short left for container name:
// its predecessor's anonymous volumes by target; nil when none.
func (e *Engine) handedOver(project, name string) map[string]string {
	data, err := os.ReadFile(e.handoverPath(project, name))
	if err != nil {
		return nil
	}
	var anon map[string]string
	if json.Unmarshal(data, &anon) != nil {
		return nil
	}
	return anon
}

// handedOverDone forgets the handover once the successor has the volumes.
func (e *Engine) handedOverDone(project, name string) {
	os.Remove(e.handoverPath(project, name))
}

// dropHandovers removes the volumes that handovers of the project still
// name and no container uses (down -v), and the handovers.
func (e *Engine) dropHandovers(ctx context.Context, project string) error {
	paths, _ := filepath.Glob(filepath.Join(e.root, "projects", project, "handover", "*.json"))
	var errs []error
	for _, p := range paths {
		name := filepath.Base(p)
		name = name[:len(name)-len(".json")]
		for _, v := range e.handedOver(project, name) {
			// one a container uses stays (ErrConflict)
			if err := e.volumes.Remove(ctx, v); err != nil && !errors.Is(err, errclass.ErrNotFound) && !errors.Is(err, errclass.ErrConflict) {
				errs = append(errs, err)
			}
		}
		os.Remove(p)
	}
	return errors.Join(errs...)
}
