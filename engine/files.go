package engine

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/project"
	"github.com/berth-dev/berth/volumes"
)

// fileMounts are a container's secrets and configs as read-only bind
// mounts: secrets at /run/secrets/<name or target>, configs at /<name> or
// their target. A file source is bound as it is (its changes seen live),
// as compose does, unless uid, gid or mode ask for a copy of its own; an
// environment or content source is always written to a file, owned and
// moded as asked (root, 0444 by default). Those files live under
// <root>/projects/<project>/files/<container>/ and go with down.
func (e *Engine) fileMounts(p *project.Project, s types.ServiceConfig, containerName string) ([]volumes.Spec, error) {
	var out []volumes.Spec
	type ref struct {
		kind string
		r    types.FileReferenceConfig
		obj  types.FileObjectConfig
		ok   bool
	}
	var refs []ref
	for _, sec := range s.Secrets {
		obj, ok := p.Secrets[sec.Source]
		refs = append(refs, ref{"secret", types.FileReferenceConfig(sec), types.FileObjectConfig(obj), ok})
	}
	for _, cfg := range s.Configs {
		obj, ok := p.Configs[cfg.Source]
		refs = append(refs, ref{"config", types.FileReferenceConfig(cfg), types.FileObjectConfig(obj), ok})
	}
	dir := filepath.Join(e.root, "projects", p.Name, "files", containerName)
	for _, f := range refs {
		if !f.ok {
			return nil, errclass.New(ErrInvalid, "service %q refers to undefined %s %s", s.Name, f.kind, f.r.Source)
		}
		if f.obj.External {
			return nil, errclass.New(ErrInvalid, "service %q: external %s %s: berth has no store of secrets and configs (swarm's)", s.Name, f.kind, f.r.Source)
		}
		target := f.r.Target
		switch {
		case f.kind == "secret" && target == "":
			target = "/run/secrets/" + f.r.Source
		case f.kind == "secret" && !path.IsAbs(target):
			target = "/run/secrets/" + target
		case target == "":
			target = "/" + f.r.Source
		}
		custom := f.r.UID != "" || f.r.GID != "" || f.r.Mode != nil
		if f.obj.File != "" && !custom {
			out = append(out, volumes.Spec{Type: "bind", Source: f.obj.File, Target: target, ReadOnly: true})
			continue
		}
		var data []byte
		switch {
		case f.obj.File != "":
			var err error
			if data, err = os.ReadFile(f.obj.File); err != nil {
				return nil, errclass.New(ErrInvalid, "%s %s: %v", f.kind, f.r.Source, err)
			}
		case f.obj.Environment != "":
			v, ok := p.Environment[f.obj.Environment]
			if !ok {
				return nil, errclass.New(ErrInvalid, "%s %s: environment variable %s is not set", f.kind, f.r.Source, f.obj.Environment)
			}
			data = []byte(v)
		default:
			data = []byte(f.obj.Content)
		}
		uid, gid, mode := 0, 0, os.FileMode(0o444)
		var err error
		if f.r.UID != "" {
			if uid, err = strconv.Atoi(f.r.UID); err != nil {
				return nil, errclass.New(ErrInvalid, "%s %s: uid %q is not a number", f.kind, f.r.Source, f.r.UID)
			}
		}
		if f.r.GID != "" {
			if gid, err = strconv.Atoi(f.r.GID); err != nil {
				return nil, errclass.New(ErrInvalid, "%s %s: gid %q is not a number", f.kind, f.r.Source, f.r.GID)
			}
		}
		if f.r.Mode != nil {
			mode = os.FileMode(*f.r.Mode)
		}
		file := filepath.Join(dir, f.kind+"s", f.r.Source)
		if err := writeOwned(file, data, uid, gid, mode); err != nil {
			return nil, fmt.Errorf("%s %s: %w", f.kind, f.r.Source, err)
		}
		out = append(out, volumes.Spec{Type: "bind", Source: file, Target: target, ReadOnly: true})
	}
	return out, nil
}

// writeOwned writes a file whose owner and mode are set before its
// content goes in, so it is never readable by others meanwhile.
func writeOwned(path string, data []byte, uid, gid int, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	os.Remove(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Chown(uid, gid); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Chmod(mode)
}
