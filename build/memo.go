package build

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/build/frontend/wire"
	"github.com/berth-dev/berth/disk"
)

// The frontend's memo: what the Dockerfile frontend made of a request,
// kept in the build cache by the request itself and the .dockerignore
// files it reads, with the answer it got to each base image it asked
// about. A rebuild asks the same bases again (as the frontend would:
// they are found or pulled as for any build) and, when every answer is
// the same, takes the kept definition instead of running berth-build:
// starting that program costs more than the rest of an unchanged
// rebuild. The frontend is a function of exactly these inputs (the
// step cache relies on the same: equal definitions give equal keys).

// memoEntry is one kept conversion.
type memoEntry struct {
	// Bases are the bases the frontend asked about, each with the
	// digest of the answer it got (image digest and config).
	Bases  map[string]digest.Digest `json:"bases"`
	Result *wire.Result             `json:"result"`
}

func memoDir(root string) string { return filepath.Join(cacheDir(root), "frontend") }

// memoKey digests the request and the content of the .dockerignore files
// the frontend may read.
func memoKey(req *wire.Request) (digest.Digest, error) {
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(req); err != nil {
		return "", err
	}
	for _, name := range slices.Sorted(maps.Keys(req.Ignores)) {
		data, err := os.ReadFile(req.Ignores[name])
		switch {
		case errors.Is(err, fs.ErrNotExist):
			data = []byte("\x00absent")
		case err != nil:
			return "", err
		}
		h.Write([]byte(name + "\x00"))
		h.Write([]byte(digest.FromBytes(data).Encoded()))
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

func answerDigest(d digest.Digest, config []byte) digest.Digest {
	return digest.FromBytes(append([]byte(d.String()+"\x00"), config...))
}

// memoized runs the frontend run through the memo under root: a kept
// conversion whose bases answer the same, else run, whose success is kept. The
// memo only saves time: one that cannot be read or written is a
// conversion run again.
func memoized(root string, run wire.Convert) wire.Convert {
	return func(ctx context.Context, req *wire.Request, resolve wire.Resolver) (*wire.Result, error) {
		key, err := memoKey(req)
		if err != nil {
			return run(ctx, req, resolve)
		}
		path := filepath.Join(memoDir(root), key.Encoded()+".json")
		if res := recall(ctx, path, resolve); res != nil {
			return res, nil
		}
		var mu sync.Mutex
		bases := map[string]digest.Digest{}
		recording := func(ctx context.Context, ref string) (digest.Digest, []byte, error) {
			d, config, err := resolve(ctx, ref)
			if err == nil {
				mu.Lock()
				bases[ref] = answerDigest(d, config)
				mu.Unlock()
			}
			return d, config, err
		}
		res, err := run(ctx, req, recording)
		if err != nil {
			return nil, err
		}
		if data, err := json.Marshal(memoEntry{Bases: bases, Result: res}); err == nil {
			if os.MkdirAll(memoDir(root), 0o700) == nil {
				// a memo not written is a conversion run again next time
				_ = disk.WriteFile(path, data, 0o600)
			}
		}
		return res, nil
	}
}

// recall gives the kept conversion at path if each base it asked about
// answers as it did; nil otherwise.
func recall(ctx context.Context, path string, resolve wire.Resolver) *wire.Result {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var e memoEntry
	if json.Unmarshal(data, &e) != nil || e.Result == nil {
		return nil
	}
	for _, ref := range slices.Sorted(maps.Keys(e.Bases)) {
		d, config, err := resolve(ctx, ref)
		if err != nil || answerDigest(d, config) != e.Bases[ref] {
			return nil
		}
	}
	return e.Result
}
