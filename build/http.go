package build

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/moby/buildkit/solver/pb"
	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errclass"
)

// httpSource executes a source operation for a URL (ADD https://...):
// the file it names, fetched from that address, alone in a directory,
// with BuildKit's semantics (source/http): its name is the frontend's
// (the last element of the URL's path), else the Content-Disposition's,
// else "download"; its mode 0600 unless the operation says another; its
// owner root unless it says another; its time the Last-Modified header's,
// else the epoch; a pinned checksum (ADD --checksum) is checked.
func (b *builder) httpSource(ctx context.Context, src *pb.SourceOp, name string) (_ []*fsState, err error) {
	step := b.progress.start(name)
	defer func() {
		if err != nil {
			step.fail(err)
		} else {
			step.done()
		}
	}()
	u := src.Identifier
	var (
		filename   string
		perm       = 0o600
		uid, gid   int
		checksum   digest.Digest
		userHeader = http.Header{}
	)
	for k, v := range src.Attrs {
		var err error
		switch k {
		case pb.AttrHTTPChecksum:
			checksum, err = digest.Parse(v)
		case pb.AttrHTTPFilename:
			filename = v
		case pb.AttrHTTPPerm:
			var n int64
			if n, err = strconv.ParseInt(v, 0, 64); n != 0 {
				perm = int(n)
			}
		case pb.AttrHTTPUID:
			var n int64
			n, err = strconv.ParseInt(v, 0, 64)
			uid = int(n)
		case pb.AttrHTTPGID:
			var n int64
			n, err = strconv.ParseInt(v, 0, 64)
			gid = int(n)
		case pb.AttrHTTPAuthHeaderSecret, pb.AttrHTTPSignatureVerify, pb.AttrHTTPSignatureVerifyPubKey:
			return nil, unsupported("source "+u+" with "+k+" (secrets and signatures of a remote file)", name)
		default:
			// the headers BuildKit lets a build set
			if h, ok := strings.CutPrefix(k, pb.AttrHTTPHeaderPrefix); ok {
				if h = http.CanonicalHeaderKey(h); h == "Accept" || h == "User-Agent" {
					userHeader.Set(h, v)
				}
			}
		}
		if err != nil {
			return nil, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("%s: invalid %s %q", name, k, v))
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, errclass.Wrap(ErrInvalid, err, fmt.Sprintf("%s: invalid URL %q", name, u))
	}
	req.Header.Set("User-Agent", "berth")
	for h := range userHeader {
		req.Header.Set(h, userHeader.Get(h))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, errclass.Wrap(ErrFailed, err, fmt.Sprintf("%s: %v", name, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return nil, errclass.New(ErrFailed, "%s: invalid response status %d", name, resp.StatusCode)
	}
	dir, err := b.newDir("http")
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fname := httpFileName(u, filename, resp)
	f, err := root.OpenFile(fname, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, os.FileMode(perm))
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		f.Close()
		return nil, errclass.Wrap(ErrFailed, err, fmt.Sprintf("%s: reading %s: %v", name, u, err))
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if got := digest.NewDigest(digest.SHA256, h); checksum != "" && got != checksum {
		return nil, errclass.New(ErrFailed, "%s: digest mismatch for %s: %s (expected: %s)", name, u, got, checksum)
	}
	// the umask narrowed the mode OpenFile made
	if err := root.Chmod(fname, os.FileMode(perm)); err != nil {
		return nil, err
	}
	if uid != 0 || gid != 0 {
		if err := root.Chown(fname, uid, gid); err != nil {
			return nil, err
		}
	}
	mtime := time.Unix(0, 0)
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			mtime = t
		}
	}
	if err := root.Chtimes(fname, mtime, mtime); err != nil {
		return nil, err
	}
	return []*fsState{{layers: []layer{{dir: dir}}}}, nil
}

// httpFileName is BuildKit's name for a fetched file (source/http's
// getFileName).
func httpFileName(u, given string, resp *http.Response) string {
	if given != "" {
		return safeFileName(given)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil {
			if fn := params["filename"]; fn != "" && !strings.HasSuffix(fn, "/") {
				if base := filepath.Base(filepath.FromSlash(fn)); base != "" {
					return safeFileName(base)
				}
			}
		}
	}
	if pu, err := url.Parse(u); err == nil {
		if base := path.Base(pu.Path); base != "." && base != "/" {
			return safeFileName(base)
		}
	}
	return safeFileName("")
}

// safeFileName is a name's last element, or "download" when that is
// empty, a dot or two, or holds a control character (BuildKit's
// source/util/pathutil).
func safeFileName(s string) string {
	name := filepath.Base(filepath.FromSlash(strings.TrimSpace(s)))
	if name == "" || name == "." || name == ".." || strings.ContainsFunc(name, func(r rune) bool { return r == 0 || unicode.IsControl(r) }) {
		return "download"
	}
	return name
}
