package testimage

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Entry is one tar entry of a layer. Type defaults to a regular file (or a
// directory when Name ends in "/").
type Entry struct {
	Name     string
	Type     byte
	Body     string
	Link     string
	Mode     int64
	UID, GID int
	ModTime  time.Time
	Xattrs   map[string]string
	Major    int64
	Minor    int64
}

// Time is the modification time entries get unless they set one.
var Time = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// Tar is the uncompressed tar of entries.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Linkname: e.Link, Mode: e.Mode, Uid: e.UID, Gid: e.GID,
			ModTime: e.ModTime, Devmajor: e.Major, Devminor: e.Minor, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
			if len(e.Name) > 0 && e.Name[len(e.Name)-1] == '/' {
				h.Typeflag = tar.TypeDir
			}
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.ModTime.IsZero() {
			h.ModTime = Time
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		for k, v := range e.Xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Layer is a gzip-compressed layer of entries.
func Layer(t testing.TB, entries ...Entry) v1.Layer {
	t.Helper()
	data := Tar(t, entries...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Image stacks layers into an image with config cfg (Cmd, Env, ...).
func Image(t testing.TB, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: Time}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// BusyboxPath is Debian's statically linked busybox.
const BusyboxPath = "/bin/busybox"

// Busybox is a one-layer image with Debian's busybox-static as /bin/busybox,
// /bin/sh and a few applets linked to it, and Cmd ["sh"].
func Busybox(t testing.TB) v1.Image {
	t.Helper()
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Skipf("%s not installed (apt-get install busybox-static; scripts/deps.sh does): %v", BusyboxPath, err)
	}
	entries := []Entry{
		{Name: "bin/"}, {Name: "etc/"}, {Name: "tmp/", Mode: 0o1777},
		{Name: "bin/busybox", Body: string(bin), Mode: 0o755},
		{Name: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{Name: "etc/group", Body: "root:x:0:\nnogroup:x:65534:\n"},
	}
	for _, applet := range []string{"sh", "ls", "cat", "echo", "sleep", "true", "false", "id", "env", "wget"} {
		entries = append(entries, Entry{Name: "bin/" + applet, Type: tar.TypeSymlink, Link: "busybox"})
	}
	return Image(t, v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}, Layer(t, entries...))
}
