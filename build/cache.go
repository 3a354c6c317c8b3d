package build

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/disk"
)

// The step cache lives in <root>/buildcache, apart from the image store,
// as BuildKit's cache is apart from Docker's images: image prune leaves
// it, builder prune and system prune clear it.
//
//	lock               builds hold it shared, a prune exclusive
//	steps/KEY/         one entry per step result, KEY its cache key
//	    record.json    what the entry holds; written last
//	    0, 1, ...      each output's layer, overlay form
//	context/ID.json    the context digest cache (ID: the context's path)
//
// An entry is made in the build's own directory and renamed into steps/
// only once complete (its record written and synced), so a build killed
// on the way leaves no half entry, only its directory for the next
// build's sweep. An entry is never changed but for its record, rewritten
// whole (write beside, rename) when the image store gets its layers.

// cacheRecord is what a cache entry says of itself.
type cacheRecord struct {
	// Created is when the step ran: its layers' time in the history,
	// as BuildKit's exporter dates a cached layer by its making.
	Created time.Time     `json:"created"`
	Outputs []cacheOutput `json:"outputs"`
}

// cacheOutput is one output of a cached step: the state numbered Input
// among the step's inputs (-1: scratch) plus the layer in directory Dir.
type cacheOutput struct {
	Input int    `json:"input"`
	Dir   string `json:"dir"`
	Size  int64  `json:"size"`
	// Blob and DiffID are the layer as the image store holds it, once an
	// image with it was exported: a rebuild reuses the blob, when the
	// store still has it, instead of writing the layer again.
	Blob   *v1.Descriptor `json:"blob,omitempty"`
	DiffID *v1.Hash       `json:"diffID,omitempty"`
}

// cacheRef ties a layer to the entry and output it came from.
type cacheRef struct {
	entry  string // steps/KEY
	output int
}

func cacheDir(root string) string { return filepath.Join(root, "buildcache") }

// holdCache takes the cache's shared lock: entries a build stands on are
// not pruned under it.
func holdCache(ctx context.Context, root string) (func(), error) {
	if err := os.MkdirAll(filepath.Join(cacheDir(root), "steps"), 0o700); err != nil {
		return nil, err
	}
	return disk.Lock(ctx, filepath.Join(cacheDir(root), "lock"), true)
}

func readRecord(entry string) (*cacheRecord, error) {
	data, err := os.ReadFile(filepath.Join(entry, "record.json"))
	if err != nil {
		return nil, err
	}
	var r cacheRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading cache record %s: %w", entry, err)
	}
	return &r, nil
}

func writeRecord(entry string, r *cacheRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return disk.WriteFile(filepath.Join(entry, "record.json"), data, 0o600)
}

// stepKey is the cache key of an operation: the digest of its own
// definition together with the keys of the states it reads (for the
// build context, the digest of what of it the operation reads).
func stepKey(d digest.Digest, inputs []string) digest.Digest {
	h := sha256.New()
	fmt.Fprintf(h, "berth build cache v1\x00%s\x00", d)
	for _, k := range inputs {
		fmt.Fprintf(h, "%s\x00", k)
	}
	return digest.NewDigest(digest.SHA256, h)
}

// outputKey is the key of output i of the step whose key is k.
func outputKey(k digest.Digest, i int) string { return fmt.Sprintf("%s#%d", k, i) }

// lookup finds the entry of key and makes the states it holds on
// inputs; nil when there is none (or it is damaged).
func (b *builder) lookup(key digest.Digest, inputs []*fsState) []*fsState {
	entry := filepath.Join(cacheDir(b.o.Root), "steps", key.Encoded())
	r, err := readRecord(entry)
	if err != nil || len(r.Outputs) == 0 {
		return nil
	}
	outs := make([]*fsState, len(r.Outputs))
	for i, o := range r.Outputs {
		base := &fsState{}
		if o.Input >= 0 {
			if o.Input >= len(inputs) || inputs[o.Input].plain != "" {
				return nil
			}
			base = inputs[o.Input]
		}
		dir := filepath.Join(entry, o.Dir)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil
		}
		st := with(base, dir)
		l := &st.layers[len(st.layers)-1]
		l.created = r.Created
		l.cache = &cacheRef{entry: entry, output: i}
		if o.Blob != nil && o.DiffID != nil && b.store.HasBlob(o.Blob.Digest) {
			desc := *o.Blob
			l.desc, l.diffID = &desc, *o.DiffID
		}
		outs[i] = st
	}
	return outs
}

// keep makes the outputs of the step just run the cache entry of key:
// their layers move into it, and the states point there. It reports
// whether the entry is now this build's result; false when another
// build made the same entry meanwhile (or this one ran without the
// cache over an entry it keeps), the result then being this build's own.
func (b *builder) keep(key digest.Digest, outs []*fsState, inputs []*fsState, created time.Time) (bool, error) {
	tmp, err := b.newDir("cache")
	if err != nil {
		return false, err
	}
	r := &cacheRecord{Created: created}
	moved := map[string]string{}
	for _, st := range outs {
		if st.plain != "" || len(st.layers) == 0 {
			return false, nil
		}
		input := baseInput(st, inputs)
		if input == -2 {
			return false, nil
		}
		upper := st.layers[len(st.layers)-1].dir
		name, ok := moved[upper]
		if !ok {
			name = fmt.Sprint(len(moved))
			if err := os.Rename(upper, filepath.Join(tmp, name)); err != nil {
				return false, err
			}
			moved[upper] = name
		}
		r.Outputs = append(r.Outputs, cacheOutput{Input: input, Dir: name, Size: dirSize(filepath.Join(tmp, name))})
		st.layers[len(st.layers)-1].dir = filepath.Join(tmp, name)
	}
	if err := writeRecord(tmp, r); err != nil {
		return false, err
	}
	entry := filepath.Join(cacheDir(b.o.Root), "steps", key.Encoded())
	if err := os.Rename(tmp, entry); err != nil {
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
			return false, nil
		}
		return false, fmt.Errorf("keeping step result in the build cache: %w", err)
	}
	disk.SyncDir(filepath.Dir(entry))
	for i, st := range outs {
		l := &st.layers[len(st.layers)-1]
		l.dir = filepath.Join(entry, r.Outputs[i].Dir)
		l.cache = &cacheRef{entry: entry, output: i}
	}
	return true, nil
}

// baseInput is which of inputs st is one layer on; -1 for scratch.
func baseInput(st *fsState, inputs []*fsState) int {
	below := st.layers[:len(st.layers)-1]
	if len(below) == 0 {
		return -1
	}
	for i, in := range inputs {
		if in.plain != "" || len(in.layers) != len(below) {
			continue
		}
		same := true
		for j := range below {
			if below[j].dir != in.layers[j].dir {
				same = false
				break
			}
		}
		if same {
			return i
		}
	}
	return -2 // not an input's: the entry cannot say what it stands on
}

// dirSize is what the files under dir take, a hard link once.
func dirSize(dir string) int64 {
	var n int64
	seen := map[uint64]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		n += fi.Size()
		return nil
	})
	return n
}

// remember writes into the cache records the blobs the image store now
// holds for the layers stored anew.
func remember(layers []layer, stored []bool, descs []v1.Descriptor, diffIDs []v1.Hash) {
	records := map[string]*cacheRecord{}
	for i, l := range layers {
		if l.cache == nil || !stored[i] {
			continue
		}
		r, ok := records[l.cache.entry]
		if !ok {
			var err error
			if r, err = readRecord(l.cache.entry); err != nil {
				continue
			}
			records[l.cache.entry] = r
		}
		if l.cache.output >= len(r.Outputs) {
			continue
		}
		desc, diffID := descs[i], diffIDs[i]
		r.Outputs[l.cache.output].Blob, r.Outputs[l.cache.output].DiffID = &desc, &diffID
	}
	for entry, r := range records {
		writeRecord(entry, r) // a record not updated only costs the next build a layer write
	}
}

// PruneOptions say what builder prune removes.
type PruneOptions struct {
	// All removes every entry; without it, only those no image in the
	// store has a layer of (Docker's dangling build cache).
	All bool
	// InImage says whether the image store holds the layer blob.
	InImage func(v1.Hash) bool
}

// PruneCache removes build cache entries and returns their IDs (as
// docker builder prune lists them) and the bytes freed. It waits for
// running builds (their lock) to finish.
func PruneCache(ctx context.Context, root string, o PruneOptions) ([]string, int64, error) {
	dir := cacheDir(root)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	unlock, err := disk.Lock(ctx, filepath.Join(dir, "lock"), false)
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	entries, err := os.ReadDir(filepath.Join(dir, "steps"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, err
	}
	var ids []string
	var freed int64
	for _, e := range entries {
		entry := filepath.Join(dir, "steps", e.Name())
		r, rerr := readRecord(entry)
		if !o.All && rerr == nil && inImages(r, o.InImage) {
			continue
		}
		if rerr == nil {
			for _, out := range r.Outputs {
				freed += out.Size
			}
		}
		if err := os.RemoveAll(entry); err != nil {
			return ids, freed, fmt.Errorf("removing build cache entry %s: %w", e.Name(), err)
		}
		ids = append(ids, e.Name()[:min(25, len(e.Name()))])
	}
	if o.All {
		// the context digests go too, what the cache remembers of
		// contexts, and the frontend's memo (memo.go), what it remembers
		// of Dockerfiles
		for _, d := range []string{filepath.Join(dir, "context"), memoDir(root)} {
			freed += dirSize(d)
			os.RemoveAll(d)
		}
	}
	return ids, freed, nil
}

func inImages(r *cacheRecord, inImage func(v1.Hash) bool) bool {
	if inImage == nil {
		return false
	}
	for _, o := range r.Outputs {
		if o.Blob != nil && inImage(o.Blob.Digest) {
			return true
		}
	}
	return false
}

// stageOf is the stage an operation belongs to, from the name the
// frontend gives its step ("[builder 2/4] RUN make"); "" when the name
// carries none (a one-stage Dockerfile) and ok false when the operation
// is no step of a stage.
func stageOf(name string) (stage string, ok bool) {
	if !strings.HasPrefix(name, "[") {
		return "", false
	}
	inner, _, found := strings.Cut(name[1:], "]")
	if !found {
		return "", false
	}
	fields := strings.Fields(inner)
	if len(fields) == 0 || !strings.Contains(fields[len(fields)-1], "/") {
		return "", false
	}
	if len(fields) >= 2 {
		return fields[len(fields)-2], true
	}
	return "", true
}
