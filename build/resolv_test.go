package build

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/buildkit/util/resolvconf"
)

// TestResolvFile: a step's resolv.conf is the one BuildKit's own package
// makes of the host's, for a network of the step's own and for the host's.
func TestResolvFile(t *testing.T) {
	for i, host := range []string{
		"nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n",
		"# generated\nnameserver 10.0.0.2\nnameserver ::1\nnameserver fe80::1%eth0\nnameserver bogus\ndomain example.com\nsearch a.example b.example\noptions ndots:2\noptions rotate\nsortlist 10.0.0.0\n; comment\n",
		"nameserver 127.0.0.1\r\nnameserver\nsearch\noptions\n\n   \n",
		"",
	} {
		p := filepath.Join(t.TempDir(), "resolv.conf")
		if err := os.WriteFile(p, []byte(host), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, hostNet := range []bool{false, true} {
			rc, err := resolvconf.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			if !hostNet || len(rc.NameServers()) == 0 {
				rc.TransformForLegacyNw(true)
			}
			want, _ := rc.Generate(false)
			got, err := resolvConf(p, hostNet)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("file %d, host network %v: got\n%s\nwant (BuildKit's)\n%s", i, hostNet, got, want)
			}
		}
	}
	// a missing file: the default servers, as BuildKit's
	got, err := resolvConf(filepath.Join(t.TempDir(), "none"), false)
	if want := "nameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844\n"; err != nil || string(got) != want {
		t.Errorf("no file: %q, %v; want %q", got, err, want)
	}
}
