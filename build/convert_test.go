package build

import (
	"context"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func noImages(context.Context, string) (digest.Digest, []byte, error) {
	return "", []byte(`{"architecture":"amd64","os":"linux"}`), nil
}

// TestConvertNamesTheLine: a Dockerfile the frontend refuses is refused
// with the line it is on.
func TestConvertNamesTheLine(t *testing.T) {
	for df, want := range map[string]string{
		"FROM scratch\nRUNN x\n":        "line 2: unknown instruction: RUNN",
		"FROM scratch\n\n\nCOPY only\n": "line 4: COPY requires at least two arguments",
		"FROM scratch\nENV\n":           "line 2: ENV requires at least one argument",
		"# just a comment\n":            "file with no instructions",
	} {
		_, err := convert(context.Background(), []byte(df), nil, "", nil, noImages)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", df, err, want)
		}
	}
}
