package image

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// dockerHubServer is the key Docker uses for Docker Hub in config.json.
const dockerHubServer = "https://index.docker.io/v1/"

// ConfigPath is the Docker client config berth reads credentials from and
// writes them to: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func ConfigPath() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker", "config.json")
}

// Login checks user and password against server's registry and, when they
// work, saves them in the Docker config file as `docker login` does. An empty
// server is Docker Hub.
func Login(ctx context.Context, server, user, password string) error {
	reg, key, err := registryFor(server)
	if err != nil {
		return err
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	rt, err := transport.NewWithContext(ctx, reg, auth, http.DefaultTransport, []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return wrap(ErrRegistry, err, fmt.Sprintf("login to %s: %v", reg.Name(), oneLine(err.Error())))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return wrap(ErrRegistry, err, fmt.Sprintf("login to %s: %v", reg.Name(), oneLine(err.Error())))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return wrap(ErrRegistry, nil, fmt.Sprintf("login to %s: unauthorized: incorrect username or password", reg.Name()))
	}
	return editConfig(func(auths map[string]json.RawMessage) {
		entry, _ := json.Marshal(map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))})
		auths[key] = entry
	})
}

// Logout removes server's credentials from the Docker config file.
func Logout(server string) error {
	_, key, err := registryFor(server)
	if err != nil {
		return err
	}
	found := false
	err = editConfig(func(auths map[string]json.RawMessage) {
		_, found = auths[key]
		delete(auths, key)
	})
	if err == nil && !found {
		return wrap(ErrNotFound, nil, fmt.Sprintf("not logged in to %s", key))
	}
	return err
}

func registryFor(server string) (name.Registry, string, error) {
	if server == "" || server == "docker.io" || server == "index.docker.io" || server == dockerHubServer {
		reg, _ := name.NewRegistry("index.docker.io")
		return reg, dockerHubServer, nil
	}
	opts := []name.Option{}
	if insecureRegistry(server) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(server, opts...)
	if err != nil {
		return name.Registry{}, "", wrap(ErrInvalid, err, fmt.Sprintf("invalid registry %q: %v", server, err))
	}
	return reg, server, nil
}

// editConfig changes the "auths" of the Docker config file and keeps every
// other key as it was.
func editConfig(change func(map[string]json.RawMessage)) error {
	path := ConfigPath()
	doc := map[string]json.RawMessage{}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading %s: %w", path, err)
	default:
		if err := json.Unmarshal(data, &doc); err != nil {
			return wrap(ErrInvalid, err, fmt.Sprintf("%s: %v", path, err))
		}
	}
	auths := map[string]json.RawMessage{}
	if raw, ok := doc["auths"]; ok {
		if err := json.Unmarshal(raw, &auths); err != nil {
			return wrap(ErrInvalid, err, fmt.Sprintf("%s: auths: %v", path, err))
		}
	}
	change(auths)
	raw, _ := json.Marshal(auths)
	doc["auths"] = raw
	out, err := json.MarshalIndent(doc, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := writeFileAtomic(path, out); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}
