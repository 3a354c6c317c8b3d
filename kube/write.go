package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/errclass"
)

// Marshal is one object as YAML, its apiVersion and kind first.
// The status of every object is left out: it is the cluster's to write.
func Marshal(o Object) ([]byte, error) {
	fail := func(err error) error {
		return fmt.Errorf("rendering %s %q: %w", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
	}
	j, err := json.Marshal(o)
	if err != nil {
		return nil, fail(err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, fail(err)
	}
	delete(m, "status")
	b, err := yaml.Marshal(m)
	if err != nil {
		return nil, fail(err)
	}
	return b, nil
}

// FileName is the file an object is written to in a directory:
// <kind>-<name>.yaml, lower case.
func FileName(o Object) string {
	return strings.ToLower(o.GetObjectKind().GroupVersionKind().Kind + "-" + o.GetName() + ".yaml")
}

// WriteYAML writes the objects as one multi-document YAML stream.
func (r *Result) WriteYAML(w io.Writer) error {
	var buf bytes.Buffer
	for i, o := range r.Objects {
		b, err := Marshal(o)
		if err != nil {
			return err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteDir writes one file per object into dir, made if missing. The files
// are written into a new directory beside dir and moved in only once all
// are written, so that a failure leaves dir as it was.
func (r *Result) WriteDir(dir string) error {
	files := map[string][]byte{}
	for _, o := range r.Objects {
		b, err := Marshal(o)
		if err != nil {
			return err
		}
		name := FileName(o)
		if _, dup := files[name]; dup {
			return errclass.New(errclass.ErrInvalid, "two objects would be written to %s", name)
		}
		files[name] = b
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), 0o755); err != nil {
		return fmt.Errorf("making %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), "."+filepath.Base(dir)+"-")
	if err != nil {
		return fmt.Errorf("writing manifests to %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	for _, name := range sortedKeys(files) {
		if err := os.WriteFile(filepath.Join(tmp, name), files[name], 0o644); err != nil {
			return fmt.Errorf("writing manifests to %s: %w", dir, err)
		}
	}
	fi, err := os.Stat(dir)
	switch {
	case os.IsNotExist(err):
		if err := os.Chmod(tmp, 0o755); err != nil {
			return fmt.Errorf("writing manifests to %s: %w", dir, err)
		}
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("writing manifests to %s: %w", dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("writing manifests to %s: %w", dir, err)
	case !fi.IsDir():
		return errclass.New(errclass.ErrInvalid, "writing manifests to %s: not a directory", dir)
	}
	// An existing directory keeps its other files; ours replace theirs
	// one rename each, on the same file system.
	for _, name := range sortedKeys(files) {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("writing manifests to %s: %w", dir, err)
		}
	}
	return nil
}
