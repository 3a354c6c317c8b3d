package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/build"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/watch"
)

// watchTarget carries out watch's actions on a project's running service
// containers (watch.Target).
type watchTarget struct {
	E       *Engine
	Project string
	// P is the project, for rebuilds.
	P *project.Project
	// Stdout and Stderr get the output of sync+exec commands.
	Stdout, Stderr io.Writer
}

// running are the service's running containers, one-offs left out.
func (t watchTarget) running(ctx context.Context, service string) ([]api.Member, error) {
	ms, err := t.E.Members(ctx, t.Project, service)
	if err != nil {
		return nil, err
	}
	var out []api.Member
	for _, m := range ms {
		if !m.Oneoff && m.State.Running() {
			out = append(out, m)
		}
	}
	return out, nil
}

// Sync copies the changed files that exist into each container as a tar
// stream extracted at its root, owned by the container's user as compose's
// copies are, and removes those that are gone.
func (t watchTarget) Sync(ctx context.Context, service string, changes []watch.Change) error {
	ms, err := t.running(ctx, service)
	if err != nil {
		return err
	}
	var copies []watch.Change
	var gone []string
	for _, c := range changes {
		if _, err := os.Lstat(c.HostPath); errors.Is(err, fs.ErrNotExist) {
			gone = append(gone, c.ContainerPath)
		} else {
			copies = append(copies, c)
		}
	}
	for _, m := range ms {
		if len(copies) > 0 {
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(writeTar(pw, copies)) }()
			err := t.E.processes.Copy(ctx, "-", m.Record.ID+":/", proc.CopyOptions{Stdin: pr})
			pr.Close()
			if err != nil {
				return fmt.Errorf("copying into %s: %w", m.Record.Name, err)
			}
		}
		if len(gone) > 0 {
			if err := t.E.processes.RemoveFiles(ctx, m.Record.ID, gone); err != nil {
				return fmt.Errorf("removing from %s: %w", m.Record.Name, err)
			}
		}
	}
	return nil
}

// writeTar writes the host files of changes as a tar stream whose entries
// are named by their container paths.
func writeTar(w io.Writer, changes []watch.Change) error {
	tw := tar.NewWriter(w)
	for _, c := range changes {
		fi, err := os.Lstat(c.HostPath)
		if err != nil {
			continue // gone since: the next batch removes it
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(c.HostPath); err != nil {
				continue
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = strings.TrimPrefix(c.ContainerPath, "/")
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(c.HostPath)
			if err != nil {
				return err
			}
			_, err = io.CopyN(tw, f, h.Size)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// Restart restarts the services' containers, and those that depend on
// them with restart: true, as compose's watch does.
func (t watchTarget) Restart(ctx context.Context, services []string) error {
	return t.E.Restart(ctx, t.Project, services, false, nil)
}

// Exec runs a sync+exec command in each of the service's containers.
func (t watchTarget) Exec(ctx context.Context, service string, hook types.ServiceHook) error {
	ms, err := t.running(ctx, service)
	if err != nil {
		return err
	}
	for _, m := range ms {
		code, err := t.E.processes.Exec(ctx, m.Record.ID, hookExec(hook, t.Stdout, t.Stderr))
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("exit code %d in %s", code, m.Record.Name)
		}
	}
	return nil
}

// Rebuild builds the services' images again and ups them, as compose's
// watch does: a new image recreates their containers.
func (t watchTarget) Rebuild(ctx context.Context, services []string) error {
	var progress func(string) io.Writer
	if t.Stderr != nil {
		progress = build.NewDisplay(t.Stderr, false).Writer
	}
	if _, err := t.E.Build(ctx, t.P, services, api.BuildOptions{Progress: progress}); err != nil {
		return err
	}
	return t.E.Up(ctx, t.P, api.UpOptions{Services: services, NoDeps: true})
}

// Watch keeps the project's containers in step with rules (compose's
// develop.watch) until ctx ends: package watch's loop, with the engine as
// its target.
func (e *Engine) Watch(ctx context.Context, p *project.Project, rules []watch.Rule, o api.WatchOptions) error {
	return watch.Run(ctx, watch.Options{
		Rules:  rules,
		Target: watchTarget{E: e, Project: p.Name, P: p, Stdout: o.Stdout, Stderr: o.Stderr},
		Log:    o.Log,
	})
}
