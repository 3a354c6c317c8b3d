package container

import (
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/errclass"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/record"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/volumes"
)

// Manager is what the container commands act through.
type Manager struct {
	root    string
	Store   *record.Store
	images  Images
	Volumes *volumes.Store
	// rt is the runtime the monitors run the containers in, for exec,
	// pause, stats and top; set once, by Open.
	rt Runtime
}

// Progress receives what a pull is doing (image.Progress: the same
// interface literal, so the same type).
type Progress = interface {
	Layer(id, status string, current, total int64)
	Line(text string)
}

// Images is what containers need of the image store; image.Source is it.
// An interface rather than the image package's types keeps container, and
// the monitor built on it, free of the registry client.
type Images interface {
	// Lookup finds a local image; nil, nil when there is none.
	Lookup(ref string) (v1.Image, error)
	// Tagged is when ref was last pointed at an image here (pulled,
	// loaded, tagged); zero when there is no such ref.
	Tagged(ref string) time.Time
	// Pull fetches ref.
	Pull(ctx context.Context, ref string, progress Progress) error
	// Lowers unpacks the image if need be and returns its layers as
	// overlay lower directories, top first.
	Lowers(ctx context.Context, img v1.Image) ([]string, error)
	// Commit makes an image from base plus the layer write produces.
	Commit(ctx context.Context, base v1.Image, config v1.Config, write func(io.Writer) error, changes []string, author, message, createdBy, name string) (string, error)
}

// noImages is the image store of a Manager opened without one: it has no
// image, and cannot pull or commit.
type noImages struct{}

var errNoStore = errclass.New(ErrInvalid, "this container manager has no image store")

func (noImages) Lookup(string) (v1.Image, error)                    { return nil, nil }
func (noImages) Tagged(string) time.Time                            { return time.Time{} }
func (noImages) Pull(context.Context, string, Progress) error       { return errNoStore }
func (noImages) Lowers(context.Context, v1.Image) ([]string, error) { return nil, errNoStore }
func (noImages) Commit(context.Context, v1.Image, v1.Config, func(io.Writer) error, []string, string, string, string, string) (string, error) {
	return "", errNoStore
}

// Open opens the containers under berth's state root, with their images
// from images (nil: none; creating a container then fails).
func Open(root string, images Images) (*Manager, error) {
	s, err := record.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		return nil, err
	}
	vols, err := volumes.Open(filepath.Join(root, "volumes"))
	if err != nil {
		return nil, err
	}
	// the volumes store describes mounts; a tmpfs volume's shared host
	// mount is the runtime's to make
	vols.Mount, vols.Unmount = runtime.MountHost, runtime.Unmount
	if images == nil {
		images = noImages{}
	}
	return &Manager{root: root, Store: s, images: images, Volumes: vols, rt: newHostRuntime(monitor.RunDir(root))}, nil
}

// Get finds a container and makes its state true (see Refresh).
func (m *Manager) Get(ctx context.Context, ref string) (record.Entry, error) {
	e, err := m.Store.Get(ref)
	if err != nil {
		return e, err
	}
	return m.Refresh(ctx, e), nil
}

// List is every container, states made true (see Refresh).
func (m *Manager) List(ctx context.Context) ([]record.Entry, error) {
	all, err := m.Store.List()
	for i := range all {
		all[i] = m.Refresh(ctx, all[i])
	}
	return all, err
}

// EnsureImage makes the image ref present as the pull policy says:
// "always" pulls, "never" only looks, anything else pulls when missing.
func (m *Manager) EnsureImage(ctx context.Context, ref, policy string, progress Progress) error {
	img, err := m.images.Lookup(ref)
	switch {
	case err != nil:
		return err
	case policy == "always", img == nil && policy != "never":
		return m.images.Pull(ctx, ref, progress)
	case img == nil:
		return errclass.New(ErrNoImage, "No such image: %s", ref)
	}
	return nil
}

// ImageTagged is when the local ref was last pulled, loaded or tagged;
// zero when there is none: what a refresh pull policy (daily) weighs.
func (m *Manager) ImageTagged(ref string) time.Time { return m.images.Tagged(ref) }

// ImageID is the config digest of the local image ref names, "" when there
// is none: what tells a plan that a service's image was updated.
func (m *Manager) ImageID(ref string) string {
	img, err := m.images.Lookup(ref)
	if err != nil || img == nil {
		return ""
	}
	id, err := img.ConfigName()
	if err != nil {
		return ""
	}
	return id.String()
}

// keeperBinary is the program that runs a container's keeper, with the
// arguments before the monitor's command line: berth-keeper beside berth
// (make build puts it there), a small static program, else berth-monitor
// or berth itself, whose hidden __keeper runs the same code.
func keeperBinary(self string) (string, []string) {
	dir := filepath.Dir(self)
	for _, name := range []string{"berth-keeper", "berth-monitor"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name), []string{"__keeper"}
		}
	}
	return self, []string{"__keeper"}
}

// initMountPoint is where --init's reaper appears in a container, as
// Docker's does.
const initMountPoint = "/sbin/docker-init"

// monitorBinary is the program that runs a container's monitor:
// berth-monitor beside berth (make build puts it there), which carries only
// what a monitor needs and so takes less memory per container, else berth
// itself (its hidden __monitor command), which runs the same code.
func monitorBinary(self string) string {
	p := filepath.Join(filepath.Dir(self), "berth-monitor")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return self
}

// InitBinary finds berth-init, the static reaper that --init runs: beside
// the berth binary, where make build puts it.
func InitBinary() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(self), "berth-init")
	if _, err := os.Stat(p); err != nil {
		return "", errclass.New(ErrInvalid, "--init needs berth-init beside %s (make build puts it there)", self)
	}
	return p, nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
