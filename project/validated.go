package project

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

// Checking a model against the compose JSON schema costs most of a load:
// compose-go compiles the schema, and checks it against its own meta-schema,
// in every process, 15-30 ms where the rest of a load takes under 1 ms. Every
// berth command loads the project, so Load remembers, per set of files, the
// digest of the inputs that last passed, and skips the schema while they are
// unchanged. Passing is a function of those inputs alone: the files' bytes,
// the environment they are interpolated with, the options, and compose-go's
// version (its schema). Files that pull in others (include, extends) are
// always checked, since their inputs are not all known here, and so are files
// with the obsolete top-level version key, whose warning compose-go prints
// from the schema pass.

// validMemo is where one set of files' digest is kept, and the digest of
// this load's inputs.
type validMemo struct {
	path, digest string
}

// uncacheable is what sends a file to the schema every time.
var uncacheable = regexp.MustCompile(`(?m)^version\s*:|include|extends`)

// memo is the memo for this load, if it can have one: dir is where memos are
// kept (Options.ValidatedCache; empty keeps none).
func memo(dir string, o Options, po *cli.ProjectOptions) (validMemo, bool) {
	if dir == "" || len(po.ConfigPaths) == 0 {
		return validMemo{}, false
	}
	h := sha256.New()
	fmt.Fprintf(h, "berth validated 1\x00%s\x00%#v\x00", composeGoVersion(), o)
	env := make([]string, 0, len(po.Environment))
	for k, v := range po.Environment {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	fmt.Fprintf(h, "%q\x00", env)
	for _, path := range po.ConfigPaths {
		if path == "-" {
			return validMemo{}, false // standard input can be read once
		}
		data, err := os.ReadFile(path)
		if err != nil || uncacheable.Match(data) {
			return validMemo{}, false
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(data))
		h.Write(data)
	}
	files := sha256.Sum256([]byte(strings.Join(po.ConfigPaths, "\x00")))
	return validMemo{
		path:   filepath.Join(dir, hex.EncodeToString(files[:16])),
		digest: hex.EncodeToString(h.Sum(nil)),
	}, true
}

// passed reports whether these inputs passed before.
func (m validMemo) passed() bool {
	data, err := os.ReadFile(m.path)
	return err == nil && bytes.Equal(bytes.TrimSpace(data), []byte(m.digest))
}

// remember records that these inputs passed. It is best effort: a memo that
// cannot be written only costs the next load the check.
func (m validMemo) remember() {
	if err := os.MkdirAll(filepath.Dir(m.path), 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(m.path), ".memo-*")
	if err != nil {
		return
	}
	_, werr := tmp.WriteString(m.digest + "\n")
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), m.path) != nil {
		os.Remove(tmp.Name())
	}
}

// composeGoVersion is the version of compose-go built in, whose schema the
// memo vouches for.
func composeGoVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/compose-spec/compose-go/v2" {
				return d.Version
			}
		}
	}
	return "unknown"
}
