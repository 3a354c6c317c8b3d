package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/disk"
	"github.com/berth-dev/berth/match"
)

// Summary is one row of `image ls`, with Docker's field names for --format.
type Summary struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	Digest       string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
	VirtualSize  string
	// SizeBytes is Size as a number (not part of Docker's output).
	SizeBytes int64 `json:"-"`

	name    string
	labels  map[string]string
	created time.Time
}

// ListOptions filter `image ls`.
type ListOptions struct {
	// Filters are Docker's: dangling=true|false, reference=PATTERN,
	// label=KEY or label=KEY=VALUE.
	Filters []string
	// Reference, when set, keeps names matching this pattern (the optional
	// REPOSITORY[:TAG] argument).
	Reference string
	NoTrunc   bool
}

// DiskUsage lists the stored images (IDs whole) and counts them as docker
// system df does: one is active while a container was made from it
// (inUse, as Prune takes it), and the unused ones' sizes are
// reclaimable, capped by the store's size, since images share layers.
func DiskUsage(s *Store, inUse func(v1.Hash) (bool, error)) ([]Summary, disk.Usage, error) {
	var u disk.Usage
	list, err := List(s, ListOptions{NoTrunc: true})
	if err != nil {
		return nil, u, err
	}
	for _, im := range list {
		id, err := v1.NewHash(im.ID)
		if err != nil {
			return nil, u, err
		}
		used, err := inUse(id)
		if err != nil {
			return nil, u, err
		}
		u.Add(im.SizeBytes, used)
	}
	// the store's size, rather than the images' sum
	u.Size = disk.Size(s.Dir())
	u.Reclaimable = min(u.Reclaimable, u.Size)
	return list, u, nil
}

// List returns the stored images, newest first.
func List(s *Store, o ListOptions) ([]Summary, error) {
	refs, err := s.Refs()
	if err != nil {
		return nil, err
	}
	match, err := filters(o)
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, r := range refs {
		img, err := s.Image(r.Manifest.Digest)
		if err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		id, _ := img.ConfigName()
		size := UnpackedSize(s, img)
		sum := Summary{Containers: "N/A", Digest: r.Manifest.Digest.String(), SharedSize: "N/A", UniqueSize: "N/A",
			Size: units.HumanSizeWithPrecision(float64(size), 3), SizeBytes: size, name: r.Name, labels: cf.Config.Labels, created: cf.Created.Time}
		sum.VirtualSize = sum.Size
		sum.ID = id.String()
		if !o.NoTrunc {
			sum.ID = id.Hex[:12]
		}
		if strings.HasPrefix(r.Name, "sha256:") {
			sum.Repository, sum.Tag = "<none>", "<none>"
		} else {
			sum.Repository, sum.Tag = repoAndTag(r.Name)
		}
		sum.CreatedAt = cf.Created.Format("2006-01-02 15:04:05 -0700 MST")
		sum.CreatedSince = since(cf.Created.Time)
		if match(sum) {
			out = append(out, sum)
		}
	}
	slices.SortStableFunc(out, func(a, b Summary) int { return b.created.Compare(a.created) })
	return out, nil
}

func since(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

// ContentSize is the image's stored size: its config and layer blobs.
func ContentSize(img v1.Image) int64 {
	m, err := img.Manifest()
	if err != nil {
		return 0
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

func filters(o ListOptions) (func(Summary) bool, error) {
	var tests []func(Summary) bool
	if o.Reference != "" {
		o.Filters = append(o.Filters, "reference="+o.Reference)
	}
	for _, f := range o.Filters {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "dangling":
			want := v == "true" || v == "1"
			if v != "true" && v != "false" && v != "1" && v != "0" {
				return nil, wrap(ErrInvalid, nil, fmt.Sprintf("invalid filter 'dangling=%s': want true or false", v))
			}
			tests = append(tests, func(s Summary) bool { return strings.HasPrefix(s.name, "sha256:") == want })
		case "reference":
			pattern := v
			tests = append(tests, func(s Summary) bool {
				fam := s.Repository + ":" + s.Tag
				for _, cand := range []string{fam, s.Repository, s.name} {
					if ok, _ := path.Match(pattern, cand); ok {
						return true
					}
				}
				return false
			})
		case "label":
			tests = append(tests, func(s Summary) bool { return match.Label(s.labels, v) })
		default:
			return nil, wrap(ErrInvalid, nil, fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	return func(s Summary) bool {
		for _, t := range tests {
			if !t(s) {
				return false
			}
		}
		return true
	}, nil
}

// Inspected is `image inspect`'s document, in Docker's shape.
type Inspected struct {
	ID            string `json:"Id"`
	RepoTags      []string
	RepoDigests   []string
	Parent        string
	Comment       string
	Created       string
	DockerVersion string
	Author        string
	Config        v1.Config
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Size          int64
	RootFS        struct {
		Type   string
		Layers []string
	}
	Metadata struct{ LastTagTime string }
}

// Inspect describes the image arg names.
func Inspect(s *Store, arg string) (Inspected, error) {
	ref, img, err := s.Lookup(arg)
	if err != nil {
		return Inspected{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Inspected{}, err
	}
	id, _ := img.ConfigName()
	out := Inspected{ID: id.String(), RepoTags: []string{}, RepoDigests: []string{}, Created: cf.Created.Format(time.RFC3339Nano),
		Author: cf.Author, Config: cf.Config, Architecture: cf.Architecture,
		Variant: cf.Variant, Os: cf.OS, Size: UnpackedSize(s, img)}
	if len(cf.History) > 0 {
		out.Comment = cf.History[len(cf.History)-1].Comment
	}
	out.RootFS.Type = "layers"
	for _, d := range cf.RootFS.DiffIDs {
		out.RootFS.Layers = append(out.RootFS.Layers, d.String())
	}
	refs, _ := s.Refs()
	for _, r := range refs {
		if r.Manifest.Digest != ref.Manifest.Digest || strings.HasPrefix(r.Name, "sha256:") {
			continue
		}
		repo, tag := repoAndTag(r.Name)
		if tag != "<none>" {
			out.RepoTags = append(out.RepoTags, repo+":"+tag)
		}
		if d := repo + "@" + r.Manifest.Digest.String(); !slices.Contains(out.RepoDigests, d) {
			out.RepoDigests = append(out.RepoDigests, d)
		}
		if r.Created.After(parseTime(out.Metadata.LastTagTime)) {
			out.Metadata.LastTagTime = r.Created.Format(time.RFC3339Nano)
		}
	}
	return out, nil
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// HistoryEntry is one row of `image history`, with Docker's field names.
type HistoryEntry struct {
	ID           string
	CreatedAt    string
	CreatedSince string
	CreatedBy    string
	Size         string
	Comment      string
}

// History lists how the image was built, newest step first.
func History(s *Store, arg string, noTrunc bool) ([]HistoryEntry, error) {
	_, img, err := s.Lookup(arg)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	id, _ := img.ConfigName()
	var out []HistoryEntry
	layer := 0
	for _, h := range cf.History {
		e := HistoryEntry{ID: "<missing>", CreatedAt: h.Created.Format(time.RFC3339), CreatedSince: since(h.Created.Time), CreatedBy: h.CreatedBy, Comment: h.Comment, Size: "0B"}
		if !h.EmptyLayer && layer < len(m.Layers) {
			e.Size = units.HumanSizeWithPrecision(float64(m.Layers[layer].Size), 3)
			layer++
		}
		if !noTrunc && len(e.CreatedBy) > 45 {
			e.CreatedBy = e.CreatedBy[:44] + "…"
		}
		out = append(out, e)
	}
	slices.Reverse(out)
	if len(out) > 0 {
		out[0].ID = id.Hex[:12]
		if noTrunc {
			out[0].ID = id.String()
		}
	}
	return out, nil
}

// Tag points target at the image src names.
func Tag(ctx context.Context, s *Store, src, target string) error {
	ref, _, err := s.Lookup(src)
	if err != nil {
		return err
	}
	r, err := ParseReference(target)
	if err != nil {
		return err
	}
	if strings.Contains(target, "@") {
		return wrap(ErrInvalid, nil, "refusing to create a tag with a digest reference")
	}
	return s.SetRef(ctx, FullName(r), ref.Manifest)
}

// RemoveOptions shape `image rm`.
type RemoveOptions struct {
	Force bool
	// InUse reports whether a container uses the image with this ID; such an
	// image is kept unless Force. Nil: no container uses any image. An
	// error (what the containers use cannot be known) keeps the image too.
	InUse func(id v1.Hash) (bool, error)
	// Keep names snapshots (chain IDs, hex) that containers use: they stay
	// even when no image names them any more, as Docker keeps the layers
	// of an image removed with -f while a container runs on them. An
	// error keeps every snapshot.
	Keep func() (map[string]bool, error)
}

// Remove untags the named images, deletes the ones left without a name, and
// frees their blobs and snapshots. It returns Docker's report lines
// ("Untagged: ...", "Deleted: sha256:..."); errors for some names do not
// stop the others.
func Remove(ctx context.Context, s *Store, snaps *Snapshots, args []string, o RemoveOptions) ([]string, error) {
	var lines []string
	var errs []error
	for _, arg := range args {
		out, err := removeOne(ctx, s, arg, o)
		lines = append(lines, out...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := Collect(ctx, s, snaps, o.Keep); err != nil {
		errs = append(errs, err)
	}
	return lines, errors.Join(errs...)
}

func removeOne(ctx context.Context, s *Store, arg string, o RemoveOptions) ([]string, error) {
	ref, img, err := s.Lookup(arg)
	if err != nil {
		return nil, err
	}
	id, _ := img.ConfigName()
	if o.InUse != nil && !o.Force {
		used, err := o.InUse(id)
		if err != nil {
			return nil, err
		}
		if used {
			return nil, wrap(ErrConflict, nil, fmt.Sprintf("conflict: unable to remove image %s: image is in use by a container (use -f)", arg))
		}
	}
	refs, err := s.Refs()
	if err != nil {
		return nil, err
	}
	var same []Ref
	for _, r := range refs {
		if r.Manifest.Digest == ref.Manifest.Digest {
			same = append(same, r)
		}
	}
	// by name: untag that name; by ID: every name, which needs -f when several
	targets := []Ref{ref}
	if r, err := ParseReference(arg); err != nil || FullName(r) != ref.Name {
		if len(same) > 1 && !o.Force {
			return nil, wrap(ErrConflict, nil, fmt.Sprintf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", arg))
		}
		targets = same
	}
	var lines []string
	for _, t := range targets {
		if err := s.DeleteRef(ctx, t.Name); err != nil {
			return lines, err
		}
		if !strings.HasPrefix(t.Name, "sha256:") {
			lines = append(lines, "Untagged: "+FamiliarName(t.Name))
		}
	}
	if len(targets) == len(same) {
		lines = append(lines, "Deleted: "+id.String())
	}
	return lines, nil
}

// Prune removes dangling images (loaded or imported without a name) or,
// with all, every image no container uses, and returns the report lines and
// the bytes freed.
func Prune(ctx context.Context, s *Store, snaps *Snapshots, all bool, inUse func(v1.Hash) (bool, error), keep func() (map[string]bool, error)) ([]string, int64, error) {
	refs, err := s.Refs()
	if err != nil {
		return nil, 0, err
	}
	var lines []string
	for _, r := range refs {
		dangling := strings.HasPrefix(r.Name, "sha256:")
		if !dangling && !all {
			continue
		}
		img, err := s.Image(r.Manifest.Digest)
		if err != nil {
			return nil, 0, err
		}
		id, _ := img.ConfigName()
		if inUse != nil {
			used, err := inUse(id)
			if err != nil {
				return lines, 0, err
			}
			if used {
				continue
			}
		}
		if err := s.DeleteRef(ctx, r.Name); err != nil {
			return lines, 0, err
		}
		if !dangling {
			lines = append(lines, "untagged: "+FamiliarName(r.Name))
		}
		lines = append(lines, "deleted: "+id.String())
	}
	freed, err := Collect(ctx, s, snaps, keep)
	return lines, freed, err
}

// Collect removes the blobs and snapshots no reference needs, and returns
// the bytes of blobs freed. It holds the store's exclusive lock throughout,
// so a pull that has unpacked a snapshot but not yet named its image cannot
// lose it.
func Collect(ctx context.Context, s *Store, snaps *Snapshots, keep func() (map[string]bool, error)) (int64, error) {
	unlock, err := s.lockExclusive(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	freed, err := s.gc()
	if err != nil {
		return freed, err
	}
	refs, err := s.Refs()
	if err != nil {
		return freed, err
	}
	live := map[v1.Hash]bool{}
	if keep != nil {
		used, err := keep()
		if err != nil {
			// which snapshots containers stand on is not known: none goes
			return freed, err
		}
		for hex := range used {
			live[v1.Hash{Algorithm: "sha256", Hex: hex}] = true
		}
	}
	for _, r := range refs {
		img, err := s.Image(r.Manifest.Digest)
		if err != nil {
			return freed, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return freed, err
		}
		for _, c := range ChainIDs(cf.RootFS.DiffIDs) {
			live[c] = true
		}
	}
	return freed, snaps.gc(live)
}

// OpenRoot opens the image store and the snapshots under berth's state root.
func OpenRoot(root string) (*Store, *Snapshots, error) {
	s, err := OpenStore(path.Join(root, "images"))
	if err != nil {
		return nil, nil, err
	}
	snaps, err := OpenSnapshots(path.Join(root, "snapshots"))
	if err != nil {
		return nil, nil, err
	}
	return s, snaps, nil
}

// UnpackedSize is the image's size as Docker shows it: what its layers'
// files take once unpacked, not the compressed blobs. A layer's size is
// counted once, from its blob, and kept beside the store (sizes/DIFFID);
// an image whose layers cannot be read is given its stored size.
func UnpackedSize(s *Store, img v1.Image) int64 {
	cf, err := img.ConfigFile()
	if err != nil {
		return ContentSize(img)
	}
	m, err := img.Manifest()
	if err != nil || len(m.Layers) != len(cf.RootFS.DiffIDs) {
		return ContentSize(img)
	}
	var total int64
	for i, l := range m.Layers {
		n, err := s.layerSize(l.Digest, cf.RootFS.DiffIDs[i])
		if err != nil {
			return ContentSize(img)
		}
		total += n
	}
	return total
}

// layerSize is the sum of the sizes of a layer's files, as Docker's layer
// store counts a diff (a hard link not again).
func (s *Store) layerSize(blob, diffID v1.Hash) (int64, error) {
	cache := filepath.Join(s.dir, "sizes", diffID.Hex)
	if b, err := os.ReadFile(cache); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := s.OpenBlob(blob)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	rc, err := decompress(f)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var n int64
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if h.Typeflag == tar.TypeReg {
			n += h.Size
		}
	}
	// a cache: a failure to keep it only costs the next count
	if os.MkdirAll(filepath.Dir(cache), 0o700) == nil {
		disk.WriteFile(cache, []byte(strconv.FormatInt(n, 10)), 0o600)
	}
	return n, nil
}
