package image

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/internal/registrytest"
	"github.com/berth-dev/berth/internal/testimage"
)

// bigImage is a 100 MB image of four layers of random bytes (incompressible,
// so the figure is the store's and the loopback's, not gzip's).
func bigImage(b *testing.B) v1.Image {
	var layers []v1.Layer
	for i := range 4 {
		data := make([]byte, 25<<20)
		rand.Read(data)
		layers = append(layers, testimage.Layer(b, testimage.Entry{Name: fmt.Sprintf("blob%d", i), Body: string(data)}))
	}
	return testimage.Image(b, v1.Config{}, layers...)
}

// BenchmarkPull pulls a 100 MB, four-layer image from a registry on
// loopback into an empty store: download, verify, unpack. MB/s is the figure.
func BenchmarkPull(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	host := registrytest.Start(b, nil)
	ref := host + "/bench:100mb"
	img := bigImage(b)
	r := mustInsecureB(b, ref)
	if err := writeRemote(r, img); err != nil {
		b.Fatal(err)
	}
	size := ContentSize(img)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		root := b.TempDir()
		s, _ := OpenStore(filepath.Join(root, "images"))
		snaps, _ := OpenSnapshots(filepath.Join(root, "snapshots"))
		b.StartTimer()
		if _, err := Pull(context.Background(), s, snaps, ref, PullOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRepull pulls an image the store already has: one manifest
// request and no blob.
func BenchmarkRepull(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	host := registrytest.Start(b, nil)
	ref := host + "/bench:small"
	if err := writeRemote(mustInsecureB(b, ref), testimage.Busybox(b)); err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	s, _ := OpenStore(filepath.Join(root, "images"))
	snaps, _ := OpenSnapshots(filepath.Join(root, "snapshots"))
	if _, err := Pull(context.Background(), s, snaps, ref, PullOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Pull(context.Background(), s, snaps, ref, PullOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
