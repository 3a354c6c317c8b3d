package build

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-dev/berth/errclass"
)

// TestParseOutput: -o values read as docker buildx reads them.
func TestParseOutput(t *testing.T) {
	for _, c := range []struct {
		spec   string
		want   Output
		stdout bool
		bad    string
	}{
		{spec: "type=docker,dest=img.tar", want: Output{Type: OutputDocker, Dest: "img.tar"}},
		{spec: "type=docker", want: Output{Type: OutputDocker}},
		{spec: "type=oci,dest=-", want: Output{Type: OutputOCI, Dest: "-"}, stdout: true},
		{spec: "type=tar", want: Output{Type: OutputTar}, stdout: true},
		{spec: "out/dir", want: Output{Type: OutputLocal, Dest: "out/dir"}},
		{spec: "-", want: Output{Type: OutputTar, Dest: "-"}, stdout: true},
		{spec: "type=local,dest=d", want: Output{Type: OutputLocal, Dest: "d"}},
		{spec: "type=local", bad: "type=local needs dest=DIRECTORY"},
		{spec: "type=registry", bad: "output type registry is not supported"},
		{spec: "type=oci,compression=zstd", bad: "the attribute compression is not supported"},
		{spec: "dest=x", bad: "no type= given"},
		{spec: "type=zip,dest=x", bad: `unknown type "zip"`},
	} {
		got, err := ParseOutput(c.spec)
		if c.bad != "" {
			if err == nil || !errors.Is(err, errclass.ErrInvalid) || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("%q: error %v, want one saying %q", c.spec, err, c.bad)
			}
			continue
		}
		if err != nil || got != c.want || got.Stdout() != c.stdout {
			t.Errorf("%q: %+v (stdout %v), %v; want %+v (stdout %v)", c.spec, got, got.Stdout(), err, c.want, c.stdout)
		}
	}
}

// TestCheckPlatforms: this machine's platform, in any of its spellings,
// is taken; another is refused.
func TestCheckPlatforms(t *testing.T) {
	native := "linux/" + goarch()
	ok := [][]string{nil, {native}, {goarch()}, {native + "," + native}}
	if goarch() == "amd64" {
		ok = append(ok, []string{"linux/x86_64"}, []string{"linux/amd64/v1"})
	}
	for _, p := range ok {
		if err := CheckPlatforms(p); err != nil {
			t.Errorf("%v: %v", p, err)
		}
	}
	other := "linux/arm64"
	if goarch() == "arm64" {
		other = "linux/amd64"
	}
	for _, p := range [][]string{{other}, {native + "," + other}, {"windows/" + goarch()}, {"linux/amd64/v9/x"}} {
		if err := CheckPlatforms(p); err == nil || !errors.Is(err, errclass.ErrInvalid) {
			t.Errorf("%v: %v, want a refusal", p, err)
		}
	}
}
