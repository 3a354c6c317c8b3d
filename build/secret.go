package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/berth-dev/berth/errclass"
)

// Secret is a build secret (--secret, compose's build.secrets): what RUN
// --mount=type=secret,id=ID reads, from a file or an environment
// variable of berth's. It is mounted in the step on a tmpfs or set in its
// environment, never written to a layer, and not in the image's history.
type Secret struct {
	ID string
	// File is a file's path; Env the name of an environment variable.
	// One of them is set.
	File, Env string
}

// maxSecretSize is BuildKit's limit on a secret.
const maxSecretSize = 500 * 1024

// ParseSecret reads a --secret flag as docker build (buildx) does:
// id=ID[,src=PATH|source=PATH][,env=VAR][,type=file|env]. With neither a
// source nor an env, the secret is the environment variable named ID if
// there is one, else the file named ID.
func ParseSecret(s string) (Secret, error) {
	var sec Secret
	var typ string
	for _, field := range strings.Split(s, ",") {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return Secret{}, errclass.New(ErrInvalid, "invalid field '%s' must be a key=value pair", field)
		}
		switch strings.ToLower(key) {
		case "type":
			if value != "file" && value != "env" {
				return Secret{}, errclass.New(ErrInvalid, "unsupported secret type %q", value)
			}
			typ = value
		case "id":
			sec.ID = value
		case "source", "src":
			sec.File = value
		case "env":
			sec.Env = value
		default:
			return Secret{}, errclass.New(ErrInvalid, "unexpected key '%s' in '%s'", key, field)
		}
	}
	if typ == "env" && sec.Env == "" {
		sec.Env, sec.File = sec.File, ""
	}
	if sec.ID == "" {
		return Secret{}, errclass.New(ErrInvalid, "secret missing ID: %q", s)
	}
	if sec.File == "" && sec.Env == "" {
		if _, ok := os.LookupEnv(sec.ID); ok {
			sec.Env = sec.ID
		} else {
			sec.File = sec.ID
		}
	}
	return sec, nil
}

// checkSecrets refuses secrets without an ID or a source, given twice,
// or whose file cannot be read, before anything runs (BuildKit's client
// checks the same when it starts a build).
func checkSecrets(list []Secret) error {
	seen := map[string]bool{}
	for _, s := range list {
		if s.ID == "" {
			return errclass.New(ErrInvalid, "secret missing ID")
		}
		if seen[s.ID] {
			return errclass.New(ErrInvalid, "secret %q given twice", s.ID)
		}
		seen[s.ID] = true
		if s.File != "" {
			fi, err := os.Stat(s.File)
			if err != nil {
				return errclass.Wrap(ErrInvalid, err, fmt.Sprintf("failed to stat %s: %v", s.File, err))
			}
			if fi.Size() > maxSecretSize {
				return errclass.New(ErrInvalid, "invalid secret size %d: secret %s is larger than %d bytes", fi.Size(), s.ID, maxSecretSize)
			}
		} else if s.Env == "" {
			return errclass.New(ErrInvalid, "secret %s has neither a file nor an environment variable", s.ID)
		}
	}
	return nil
}

// errSecretNotFound is a secret the build was not given.
var errSecretNotFound = errors.New("not found")

// secret is the value of the build's secret id.
func (o RunOptions) secret(id string) ([]byte, error) {
	for _, s := range o.Secrets {
		if s.ID != id {
			continue
		}
		if s.Env != "" {
			v, ok := os.LookupEnv(s.Env)
			if !ok {
				return nil, fmt.Errorf("secret %s: environment variable %s: %w", id, s.Env, errSecretNotFound)
			}
			return []byte(v), nil
		}
		data, err := os.ReadFile(s.File)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("secret %s: %w", id, errSecretNotFound)
		}
		return data, err
	}
	return nil, fmt.Errorf("secret %s: %w", id, errSecretNotFound)
}
