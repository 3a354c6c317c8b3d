package volumes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/internal/crash"
)

// Error classes.
var (
	ErrNotFound = errclass.Sentinel(errclass.ErrNotFound, "no such volume")
	ErrInUse    = errclass.Sentinel(errclass.ErrConflict, "volume is in use")
	ErrInvalid  = errclass.Sentinel(errclass.ErrInvalid, "invalid volume")
)

// AnonymousLabel marks a volume made for one container, as Docker marks it.
const AnonymousLabel = "com.docker.volume.anonymous"

// Volume is one volume's metadata, as `volume inspect` shows it.
type Volume struct {
	Name       string
	Driver     string
	Mountpoint string
	CreatedAt  time.Time
	Labels     map[string]string
	Options    map[string]string
	Scope      string
}

// Store keeps volumes under <root>/volumes.
type Store struct {
	dir string
	// Mount and Unmount make and undo a volume's host mount (HostMount),
	// for volumes of type=tmpfs: the package describes mounts and never
	// makes them itself, so its user, which can, provides them.
	Mount   func(m specs.Mount) error
	Unmount func(path string) error
}

// Open opens (creating if needed) the volume directory.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o701); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	return &Store{dir: dir}, nil
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// CreateOptions shape Create.
type CreateOptions struct {
	Driver  string
	Labels  map[string]string
	Options map[string]string // the local driver's: type, device, o
	// Anonymous makes the volume an anonymous one under the name given:
	// a caller that names it ahead knows what to remove should it die
	// before the volume is recorded anywhere (see NewName).
	Anonymous bool
}

// NewName is a name for an anonymous volume: 64 random hex digits, as
// Docker's.
func NewName() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Create makes the volume name, or returns it when it exists with the same
// driver, as docker volume create does. An empty name makes an anonymous
// volume.
func (s *Store) Create(ctx context.Context, name string, o CreateOptions) (Volume, error) {
	if o.Driver == "" {
		o.Driver = "local"
	}
	if o.Driver != "local" {
		return Volume{}, errclass.New(ErrInvalid, "volume driver %q is not supported: berth has the local driver", o.Driver)
	}
	if name == "" {
		name, o.Anonymous = NewName(), true
	}
	if o.Anonymous {
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		o.Labels[AnonymousLabel] = ""
	}
	if !validName.MatchString(name) {
		return Volume{}, errclass.New(ErrInvalid, "%q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed", name)
	}
	if err := checkOptions(o.Options); err != nil {
		return Volume{}, err
	}
	unlock, err := disk.Lock(ctx, filepath.Join(s.dir, ".lock"), false)
	if err != nil {
		return Volume{}, err
	}
	defer unlock()
	if v, err := s.Get(name); err == nil {
		return v, nil
	}
	dir := filepath.Join(s.dir, name)
	if err := os.MkdirAll(filepath.Join(dir, "_data"), 0o755); err != nil {
		return Volume{}, fmt.Errorf("creating volume %s: %w", name, err)
	}
	crash.Point("volume-dir") // a directory without meta.json: Sweep's
	v := Volume{Name: name, Driver: o.Driver, Mountpoint: filepath.Join(dir, "_data"), CreatedAt: time.Now().UTC(),
		Labels: o.Labels, Options: o.Options, Scope: "local"}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	if v.Options == nil {
		v.Options = map[string]string{}
	}
	data, _ := json.MarshalIndent(v, "", "  ")
	if err := disk.WriteFile(filepath.Join(dir, "meta.json"), data, 0o600); err != nil {
		os.RemoveAll(dir)
		return Volume{}, err
	}
	return v, nil
}

// checkOptions accepts the local driver's options: type, device and o.
func checkOptions(opts map[string]string) error {
	for k := range opts {
		if k != "type" && k != "device" && k != "o" {
			return errclass.New(ErrInvalid, "invalid option %q for the local volume driver (type, device and o are)", k)
		}
	}
	if opts["type"] != "" && opts["type"] != "none" && opts["type"] != "tmpfs" && opts["device"] == "" {
		return errclass.New(ErrInvalid, "volume type %q needs a device", opts["type"])
	}
	if strings.Contains(opts["o"], "bind") {
		fi, err := os.Stat(opts["device"])
		if err != nil || !fi.IsDir() {
			return errclass.New(ErrInvalid, "the bind device %q of a volume must be an existing directory", opts["device"])
		}
	}
	return nil
}

// Get reads a volume's metadata.
func (s *Store) Get(name string) (Volume, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, name, "meta.json"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Volume{}, errclass.New(ErrNotFound, "get %s: no such volume", name)
		}
		return Volume{}, err
	}
	var v Volume
	if err := json.Unmarshal(data, &v); err != nil {
		return Volume{}, fmt.Errorf("volume %s: %w", name, err)
	}
	return v, nil
}

// List returns every volume, by name.
func (s *Store) List() ([]Volume, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []Volume
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if v, err := s.Get(e.Name()); err == nil {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b Volume) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Remove deletes a volume and its data. inUse names the containers using it:
// a volume in use is refused, force or not, so that no container loses its
// data under it (Docker refuses too).
func (s *Store) Remove(ctx context.Context, name string, inUse []string) error {
	if _, err := s.Get(name); err != nil {
		return err
	}
	if len(inUse) > 0 {
		return errclass.New(ErrInUse, "remove %s: volume is in use - [%s]", name, strings.Join(inUse, ", "))
	}
	unlock, err := disk.Lock(ctx, filepath.Join(s.dir, ".lock"), false)
	if err != nil {
		return err
	}
	defer unlock()
	dir := filepath.Join(s.dir, name)
	if v, err := s.Get(name); err == nil {
		if _, ok := v.HostMount(); ok && s.Unmount != nil {
			if err := s.Unmount(v.Mountpoint); err != nil {
				return err
			}
		}
	}
	// the metadata goes first: a crash mid-delete leaves no volume that
	// looks whole
	if err := os.Remove(filepath.Join(dir, "meta.json")); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// Anonymous reports whether v was made for one container.
func (v Volume) Anonymous() bool {
	_, ok := v.Labels[AnonymousLabel]
	return ok
}
