package image

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-dev/berth/internal/registrytest"
	"github.com/berth-dev/berth/internal/testimage"
)

// seed puts img in the registry as ref, bypassing berth.
func seed(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("seeding %s: %v", ref, err)
	}
}

// requests counts what a pull asks the registry for.
type requests struct {
	manifests, blobs atomic.Int32
}

func (c *requests) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case strings.Contains(req.URL.Path, "/manifests/"):
		c.manifests.Add(1)
	case strings.Contains(req.URL.Path, "/blobs/") && req.Method == http.MethodGet:
		c.blobs.Add(1)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// consistent fails the test unless every reference's blobs are stored and
// match their digests.
func consistent(t *testing.T, s *Store) {
	t.Helper()
	refs, err := s.Refs()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		img, err := s.Image(r.Manifest.Digest)
		if err != nil {
			t.Errorf("%s: %v", r.Name, err)
			continue
		}
		layers, _ := img.Layers()
		for _, l := range layers {
			d, _ := l.Digest()
			rc, err := l.Compressed()
			if err != nil {
				t.Errorf("%s: layer %s: %v", r.Name, d, err)
				continue
			}
			got, _, _ := v1.SHA256(rc)
			rc.Close()
			if got != d {
				t.Errorf("%s: layer %s has content %s", r.Name, d, got)
			}
		}
	}
}

func TestPushPullRoundTrip(t *testing.T) {
	requireRoot(t)
	host := registrytest.Start(t, nil)
	ctx := context.Background()
	src, srcSnaps := newStore(t)
	busybox := testimage.Busybox(t)
	layered, err := mutate.AppendLayers(busybox, testimage.Layer(t, testimage.Entry{Name: "app/"}, testimage.Entry{Name: "app/hello", Body: "hi"}))
	if err != nil {
		t.Fatal(err)
	}
	// put the image in a first store, as import or load would
	stored := putImage(t, src, layered)
	d, _ := stored.Digest()
	mt, _ := stored.MediaType()
	size, _ := stored.Size()
	ref := host + "/demo/app:1"
	if err := src.SetRef(ctx, FullName(mustRef(t, ref)), v1.Descriptor{MediaType: mt, Digest: d, Size: size}); err != nil {
		t.Fatal(err)
	}
	_ = srcSnaps
	var out bytes.Buffer
	pushed, err := Push(ctx, src, ref, PushOptions{Progress: NewProgress(&out, false)})
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out.String())
	}
	if pushed != d {
		t.Errorf("push returned digest %s, want the manifest's %s", pushed, d)
	}
	if !strings.Contains(out.String(), ": Pushed") || !strings.Contains(out.String(), "1: digest: "+d.String()) {
		t.Errorf("push output:\n%s", out.String())
	}

	dst, snaps := newStore(t)
	out.Reset()
	got, err := Pull(ctx, dst, snaps, ref, PullOptions{Progress: NewProgress(&out, false)})
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, out.String())
	}
	if got.Manifest.Digest != d {
		t.Errorf("pulled manifest %s, pushed %s", got.Manifest.Digest, d)
	}
	for _, want := range []string{"1: Pulling from demo/app", "Pull complete", "Digest: " + d.String(), "Status: Downloaded newer image for " + ref} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("pull output lacks %q:\n%s", want, out.String())
		}
	}
	img, err := dst.Image(got.Manifest.Digest)
	if err != nil {
		t.Fatal(err)
	}
	lowers, err := snaps.Lowers(img)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(lowers[0], "app/hello")); err != nil || string(data) != "hi" {
		t.Errorf("top layer app/hello = %q, %v", data, err)
	}
	if fi, err := os.Stat(filepath.Join(lowers[1], "bin/busybox")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("base layer bin/busybox: %v, %v", fi, err)
	}
	consistent(t, dst)

	// Present already: one manifest request, no blob.
	var count requests
	out.Reset()
	if _, err := Pull(ctx, dst, snaps, ref, PullOptions{Progress: NewProgress(&out, false), Transport: &count}); err != nil {
		t.Fatal(err)
	}
	if count.manifests.Load() != 1 || count.blobs.Load() != 0 {
		t.Errorf("re-pull made %d manifest and %d blob requests, want 1 and 0", count.manifests.Load(), count.blobs.Load())
	}
	if !strings.Contains(out.String(), "Status: Image is up to date for "+ref) {
		t.Errorf("re-pull output:\n%s", out.String())
	}
}

func mustInsecure(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPullPlatform(t *testing.T) {
	requireRoot(t)
	host := registrytest.Start(t, nil)
	amd := testimage.Image(t, v1.Config{Cmd: []string{"amd64"}}, testimage.Layer(t, testimage.Entry{Name: "arch", Body: "amd64"}))
	arm := testimage.Image(t, v1.Config{Cmd: []string{"arm64"}}, testimage.Layer(t, testimage.Entry{Name: "arch", Body: "arm64"}))
	cf, _ := arm.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture = "arm64"
	arm = mutateConfig(t, arm, cf)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	ref := host + "/multi:latest"
	r, _ := name.ParseReference(ref, name.Insecure)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	for platform, want := range map[string]string{"": "amd64", "linux/arm64": "arm64"} {
		s, snaps := newStore(t)
		got, err := Pull(context.Background(), s, snaps, ref, PullOptions{Platform: platform})
		if err != nil {
			t.Fatalf("platform %q: %v", platform, err)
		}
		img, _ := s.Image(got.Manifest.Digest)
		cfg, _ := img.ConfigFile()
		if cfg.Config.Cmd[0] != want {
			t.Errorf("platform %q pulled the %s image", platform, cfg.Config.Cmd[0])
		}
	}
	s, snaps := newStore(t)
	if _, err := Pull(context.Background(), s, snaps, ref, PullOptions{Platform: "linux/s390x"}); err == nil {
		t.Error("pulled a platform the index does not have")
	}
}

func TestPullAuthenticated(t *testing.T) {
	requireRoot(t)
	host := registrytest.Start(t, map[string]string{"alice": "s3cret"})
	cfgDir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfgDir)
	if err := Login(context.Background(), host, "alice", "s3cret"); err != nil {
		t.Fatalf("login: %v", err)
	}
	ref := host + "/private:1"
	if err := remote.Write(mustInsecure(t, ref), testimage.Busybox(t), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		t.Fatal(err)
	}
	s, snaps := newStore(t)
	if _, err := Pull(context.Background(), s, snaps, ref, PullOptions{}); err != nil {
		t.Fatalf("pull with credentials: %v", err)
	}
	if err := Logout(host); err != nil {
		t.Fatal(err)
	}
	s2, snaps2 := newStore(t)
	_, err := Pull(context.Background(), s2, snaps2, ref, PullOptions{})
	if !errors.Is(err, ErrRegistry) || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("pull after logout: err = %v, want access denied", err)
	}
	if err := Login(context.Background(), host, "alice", "wrong"); !errors.Is(err, ErrRegistry) {
		t.Errorf("login with a wrong password: err = %v, want ErrRegistry", err)
	}
}

func TestPullErrors(t *testing.T) {
	host := registrytest.Start(t, nil)
	seed(t, host+"/there:1", testimage.Busybox(t))
	tests := []struct {
		ref   string
		class error
		want  string
	}{
		{host + "/nosuch:1", ErrNotFound, "not found"},
		{host + "/there:nosuchtag", ErrNotFound, "manifest for " + host + "/there:nosuchtag not found"},
		{"UPPER/case", ErrInvalid, "invalid reference format"},
		{"127.0.0.1:1/refused:1", ErrRegistry, "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			s, snaps := newStore(t)
			_, err := Pull(context.Background(), s, snaps, tc.ref, PullOptions{})
			if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want %v mentioning %q on one line", err, tc.class, tc.want)
			}
			if refs, _ := s.Refs(); len(refs) != 0 {
				t.Errorf("a failed pull left references: %v", refs)
			}
		})
	}
}

// TestConcurrentPulls: two pulls of one image at once fetch each blob once
// and both succeed; a GC running beside pulls never leaves a reference to a
// missing blob.
func TestConcurrentPulls(t *testing.T) {
	requireRoot(t)
	host := registrytest.Start(t, nil)
	ref := host + "/shared:1"
	img, _ := mutate.AppendLayers(testimage.Busybox(t), testimage.Layer(t, testimage.Entry{Name: "big", Body: strings.Repeat("z", 4<<20)}))
	seed(t, ref, img)
	s, snaps := newStore(t)
	var count requests
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := Pull(context.Background(), s, snaps, ref, PullOptions{Transport: &count}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	m, _ := img.Manifest()
	if got := int(count.blobs.Load()); got > len(m.Layers)+1 {
		t.Errorf("%d blob downloads for %d layers and a config: a blob was fetched twice", got, len(m.Layers))
	}
	consistent(t, s)

	// GC racing pulls of a second name for the same blobs.
	ctx := context.Background()
	for i := range 5 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := Pull(ctx, s, snaps, ref, PullOptions{}); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				s.DeleteRef(ctx, FullName(mustRef(t, ref)))
			}
			if _, err := s.GC(ctx); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		consistent(t, s)
	}
}

// flaky fails the first request for each blob with 503, as an overloaded
// registry would; go-containerregistry's retries must carry the pull.
type flaky struct {
	mu     sync.Mutex
	failed map[string]bool
}

func (f *flaky) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, "/blobs/") && req.Method == http.MethodGet {
		f.mu.Lock()
		first := !f.failed[req.URL.Path]
		f.failed[req.URL.Path] = true
		f.mu.Unlock()
		if first {
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable",
				Body: http.NoBody, Header: http.Header{}, Request: req}, nil
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestPullByDigestZstdAndRetry pulls by digest an image whose layer is
// zstd-compressed, through a registry that fails each blob once.
func TestPullByDigestZstdAndRetry(t *testing.T) {
	requireRoot(t)
	host := registrytest.Start(t, nil)
	data := testimage.Tar(t, testimage.Entry{Name: "zfile", Body: "compressed with zstd"})
	zl, err := zstdLayer(data)
	if err != nil {
		t.Fatal(err)
	}
	img := testimage.Image(t, v1.Config{}, zl)
	if m, _ := img.Manifest(); m.Layers[0].MediaType != types.OCILayerZStd {
		t.Fatalf("layer media type %s, want zstd", m.Layers[0].MediaType)
	}
	if rc, err := zl.Compressed(); err == nil {
		magic := make([]byte, 4)
		io.ReadFull(rc, magic)
		rc.Close()
		if !bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			t.Fatalf("layer blob starts %x, not zstd's magic", magic)
		}
	}
	seed(t, host+"/zstd:1", img)
	d, _ := img.Digest()
	s, snaps := newStore(t)
	got, err := Pull(context.Background(), s, snaps, host+"/zstd@"+d.String(), PullOptions{Transport: &flaky{failed: map[string]bool{}}})
	if err != nil {
		t.Fatalf("pull by digest through a flaky registry: %v", err)
	}
	if got.Name != host+"/zstd@"+d.String() {
		t.Errorf("stored as %s", got.Name)
	}
	stored, _ := s.Image(got.Manifest.Digest)
	lowers, err := snaps.Lowers(stored)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(lowers[0], "zfile")); err != nil || string(b) != "compressed with zstd" {
		t.Errorf("zfile = %q, %v", b, err)
	}
}
