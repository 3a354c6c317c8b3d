package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-dev/berth/internal/testimage"
)

// named stores img under name and returns its manifest digest.
func named(t *testing.T, s *Store, name string, img v1.Image) v1.Hash {
	t.Helper()
	stored := putImage(t, s, img)
	d, _ := stored.Digest()
	mt, _ := stored.MediaType()
	size, _ := stored.Size()
	if err := s.SetRef(context.Background(), FullName(mustRef(t, name)), v1.Descriptor{MediaType: mt, Digest: d, Size: size}); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSaveLoadIdentical: an image saved and loaded back has the same
// manifest, config and layer digests, and the archive carries both a Docker
// manifest.json and an OCI index.json.
func TestSaveLoadIdentical(t *testing.T) {
	requireRoot(t)
	src, _ := newStore(t)
	d := named(t, src, "busybox:1", testimage.Busybox(t))
	named(t, src, "other/app:2", testimage.Busybox(t))
	var buf bytes.Buffer
	if err := Save(context.Background(), src, []string{"busybox:1", "other/app:2"}, &buf); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		data := new(bytes.Buffer)
		data.ReadFrom(tr)
		files[h.Name] = data.Bytes()
	}
	var dm []dockerManifest
	if err := json.Unmarshal(files["manifest.json"], &dm); err != nil || len(dm) != 1 || len(dm[0].RepoTags) != 2 {
		t.Fatalf("manifest.json = %s (%v): want one image with two tags", files["manifest.json"], err)
	}
	if _, ok := files["index.json"]; !ok {
		t.Error("archive has no OCI index.json")
	}

	dst, snaps := newStore(t)
	names, err := Load(context.Background(), dst, snaps, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "docker.io/library/busybox:1,docker.io/other/app:2" {
		t.Errorf("loaded %v", names)
	}
	ref, img, err := dst.Lookup("busybox:1")
	if err != nil {
		t.Fatal(err)
	}
	if ref.Manifest.Digest != d {
		t.Errorf("manifest digest %s after load, %s before", ref.Manifest.Digest, d)
	}
	if _, err := snaps.Lowers(img); err != nil {
		t.Errorf("loaded image is not unpacked: %v", err)
	}
}

// TestLoadDockerArchive reads an archive in the classic `docker save` shape
// (uncompressed layer.tar files under per-layer directories), as
// go-containerregistry writes it.
func TestLoadDockerArchive(t *testing.T) {
	requireRoot(t)
	img := testimage.Busybox(t)
	var buf bytes.Buffer
	if err := tarball.Write(mustRef(t, "classic:1"), img, &buf); err != nil {
		t.Fatal(err)
	}
	s, snaps := newStore(t)
	names, err := Load(context.Background(), s, snaps, &buf)
	if err != nil || len(names) != 1 {
		t.Fatalf("Load = %v, %v", names, err)
	}
	_, loaded, err := s.Lookup("classic:1")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	if got, _ := loaded.ConfigName(); got != want {
		t.Errorf("image ID %s, want %s", got, want)
	}
}

func TestLoadRefusesBadArchives(t *testing.T) {
	tar1 := func(entries ...testimage.Entry) []byte { return testimage.Tar(t, entries...) }
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not an archive", []byte("hello, not a tar at all, but long enough to look at")},
		{"no manifest", tar1(testimage.Entry{Name: "something", Body: "x"})},
		{"escaping entry", tar1(testimage.Entry{Name: "../../escape", Body: "x"})},
		{"manifest pointing outside", tar1(testimage.Entry{Name: "manifest.json", Body: `[{"Config":"../../etc/passwd","RepoTags":["x:1"],"Layers":[]}]`})},
		{"missing layer", tar1(testimage.Entry{Name: "c.json", Body: `{}`}, testimage.Entry{Name: "manifest.json", Body: `[{"Config":"c.json","RepoTags":["x:1"],"Layers":["nope.tar"]}]`})},
		{"truncated", func() []byte {
			var b bytes.Buffer
			tarball.Write(mustRef(t, "t:1"), testimage.Busybox(t), &b)
			return b.Bytes()[:b.Len()/2]
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, snaps := newStore(t)
			_, err := Load(context.Background(), s, snaps, bytes.NewReader(tc.data))
			if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want a one-line ErrInvalid", err)
			}
			if refs, _ := s.Refs(); len(refs) != 0 {
				t.Errorf("a refused archive left references: %v", refs)
			}
		})
	}
}

func TestImport(t *testing.T) {
	requireRoot(t)
	s, snaps := newStore(t)
	rootfs := t.TempDir()
	os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "bin", "app"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	os.Symlink("app", filepath.Join(rootfs, "bin", "alias"))
	os.Chown(filepath.Join(rootfs, "bin", "app"), 1000, 1000)
	name, err := Import(context.Background(), s, snaps, nil, rootfs, ImportOptions{
		Name: "imported:1",
		Changes: []string{
			`CMD ["app", "--serve"]`, "ENTRYPOINT /bin/entry", "ENV A=1 B='two words'", "ENV C three", "EXPOSE 80 53/udp",
			"WORKDIR /srv", "USER 1000:1000", `LABEL team=web "k v"=x`, "VOLUME /data", "STOPSIGNAL SIGINT",
			"HEALTHCHECK --interval=2s --retries=5 CMD wget -q localhost",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if name != "docker.io/library/imported:1" {
		t.Errorf("name = %s", name)
	}
	_, img, err := s.Lookup("imported:1")
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	c := cf.Config
	checks := map[string][2]string{
		"Cmd":         {strings.Join(c.Cmd, " "), "app --serve"},
		"Entrypoint":  {strings.Join(c.Entrypoint, " "), "/bin/sh -c /bin/entry"},
		"Env":         {strings.Join(c.Env, ","), "A=1,B=two words,C=three"},
		"WorkingDir":  {c.WorkingDir, "/srv"},
		"User":        {c.User, "1000:1000"},
		"StopSignal":  {c.StopSignal, "SIGINT"},
		"Labels":      {c.Labels["team"] + "|" + c.Labels["k v"], "web|x"},
		"Healthcheck": {fmt.Sprint(c.Healthcheck.Test, c.Healthcheck.Interval, c.Healthcheck.Retries), "[CMD-SHELL wget -q localhost] 2s 5"},
	}
	for field, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", field, v[0], v[1])
		}
	}
	if _, ok := c.ExposedPorts["53/udp"]; !ok || len(c.ExposedPorts) != 2 {
		t.Errorf("ExposedPorts = %v", c.ExposedPorts)
	}
	lowers, err := snaps.Lowers(img)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(lowers[0], "bin", "app"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/app: %v %v", fi, err)
	}
	if l, _ := os.Readlink(filepath.Join(lowers[0], "bin", "alias")); l != "app" {
		t.Errorf("bin/alias -> %q", l)
	}
	for _, bad := range []string{"RUN make", "CMD", `CMD ["unterminated`, "ENV =x", "HEALTHCHECK --interval=soon CMD true", "HEALTHCHECK --retries 3 CMD true", "HEALTHCHECK true"} {
		if _, err := Import(context.Background(), s, snaps, nil, rootfs, ImportOptions{Changes: []string{bad}}); !errors.Is(err, ErrInvalid) {
			t.Errorf("--change %q: err = %v, want ErrInvalid", bad, err)
		}
	}
}
