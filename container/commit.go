package container

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/tarfs"
)

// CommitOptions are `commit`'s settings.
type CommitOptions struct {
	Changes []string
	Author  string
	Message string
	// Pause freezes a running container while its changes are read, as
	// Docker does by default, so the layer is one moment's state.
	Pause bool
	Name  string
}

// Commit makes an image of the container's image plus its changes (the
// overlay's upper directory, whiteouts turned back into .wh. entries) and
// returns the new image's reference or ID.
func (m *Manager) Commit(ctx context.Context, ref string, o CommitOptions) (string, error) {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return "", err
	}
	base, err := m.images.Lookup(e.Record.ImageID)
	if err != nil {
		return "", err
	}
	if base == nil {
		return "", errclass.New(ErrConflict, "the image of container %s is gone", e.Record.Name)
	}
	if o.Pause && e.State.Status == record.Running {
		if err := m.Pause(ctx, e.Record.ID); err != nil {
			return "", err
		}
		defer m.Unpause(context.WithoutCancel(ctx), e.Record.ID)
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return "", err
	}
	c := e.Record.Config
	cfg := cf.Config
	cfg.Cmd, cfg.Entrypoint, cfg.WorkingDir, cfg.User, cfg.StopSignal = c.Cmd, c.Entrypoint, c.WorkingDir, c.User, c.StopSignal
	cfg.Labels, cfg.Env = c.Labels, nil
	for _, kv := range c.Env {
		if !strings.HasPrefix(kv, "HOSTNAME=") { // set when a container starts, not part of an image
			cfg.Env = append(cfg.Env, kv)
		}
	}
	mounted := map[string]bool{"proc": true, "dev": true, "sys": true}
	for _, mnt := range e.Record.Spec.Mounts {
		mounted[strings.TrimPrefix(path.Clean(mnt.Destination), "/")] = true
	}
	// what the runtime mounted over is not the container's change
	skip := func(rel string, _ fs.FileInfo) bool { return mounted[rel] }
	write := func(w io.Writer) error {
		if _, err := os.Stat(e.Record.Spec.Rootfs.Upper); errors.Is(err, fs.ErrNotExist) {
			// never started: no change yet, an empty layer, as Docker's
			return tar.NewWriter(w).Close()
		}
		return tarfs.WriteWith(ctx, e.Record.Spec.Rootfs.Upper, "", w, tarfs.WriteOptions{Overlay: true, Skip: skip})
	}
	createdBy := strings.Join(append([]string{e.Record.Path}, e.Record.Args...), " ")
	return m.images.Commit(ctx, base, cfg, write, o.Changes, o.Author, o.Message, createdBy, o.Name)
}
