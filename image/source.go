package image

import (
	"context"
	"errors"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Source is the image store and its snapshots as the container package
// uses them (container.Images): container names no type of this package,
// so that the programs built on it without pulling, such as each
// container's monitor, do not carry the registry client.
type Source struct {
	Store     *Store
	Snapshots *Snapshots
}

// OpenSource opens the images and snapshots under berth's state root.
func OpenSource(root string) (*Source, error) {
	s, snaps, err := OpenRoot(root)
	if err != nil {
		return nil, err
	}
	return &Source{Store: s, Snapshots: snaps}, nil
}

// Lookup finds the local image ref names; nil, nil when there is none.
func (s *Source) Lookup(ref string) (v1.Image, error) {
	_, img, err := s.Store.Lookup(ref)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return img, err
}

// Tagged is when ref was last written here; zero when it is not here.
func (s *Source) Tagged(ref string) time.Time {
	r, _, err := s.Store.Lookup(ref)
	if err != nil {
		return time.Time{}
	}
	return r.Created
}

// Pull fetches ref into the store, showing progress.
func (s *Source) Pull(ctx context.Context, ref string, progress Progress) error {
	_, err := Pull(ctx, s.Store, s.Snapshots, ref, PullOptions{Progress: progress})
	return err
}

// Lowers unpacks the image's layers if they are not yet, and returns
// them as overlay lower directories, top first.
func (s *Source) Lowers(ctx context.Context, img v1.Image) ([]string, error) {
	if err := s.Snapshots.Prepare(ctx, s.Store, img, nil); err != nil {
		return nil, err
	}
	return s.Snapshots.Lowers(img)
}

// Commit makes a new image from base and the layer write produces (see
// the package's Commit).
func (s *Source) Commit(ctx context.Context, base v1.Image, config v1.Config, write func(io.Writer) error, changes []string, author, message, createdBy, name string) (string, error) {
	return Commit(ctx, s.Store, s.Snapshots, base, write, CommitOptions{
		Config: config, Changes: changes, Author: author, Message: message, CreatedBy: createdBy, Name: name})
}
