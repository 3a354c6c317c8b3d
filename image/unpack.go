package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/berth-dev/berth/tarfs"
)

// opaqueXattr marks a directory whose lower-layer contents overlayfs must
// hide; whiteouts are 0/0 character devices (see tarfs).
const opaqueXattr = tarfs.OpaqueXattr

// decompress returns the uncompressed stream of a layer blob, recognising
// gzip and zstd by their magic numbers (media types are not always right) and
// passing anything else through as a plain tar.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// unpackLayer extracts one layer blob into dir in overlayfs form and checks
// that its uncompressed content has the digest diffID.
func unpackLayer(ctx context.Context, blob io.Reader, diffID v1.Hash, dir string) error {
	rc, err := decompress(blob)
	if err != nil {
		return wrap(ErrInvalid, err, fmt.Sprintf("layer %s: %v", diffID, err))
	}
	defer rc.Close()
	sum := sha256.New()
	if err := tarfs.Extract(ctx, io.TeeReader(rc, sum), dir, tarfs.Options{Overlay: true}); err != nil {
		return fromTarfs(err)
	}
	// the tar reader stops at the end-of-archive marker: hash the padding too
	if _, err := io.Copy(sum, rc); err != nil {
		return wrap(ErrInvalid, err, fmt.Sprintf("layer %s: %v", diffID, err))
	}
	if got := hex.EncodeToString(sum.Sum(nil)); diffID.Hex != "" && got != diffID.Hex {
		return wrap(ErrDigest, nil, fmt.Sprintf("layer %s: uncompressed content has digest sha256:%s", diffID, got))
	}
	return nil
}
