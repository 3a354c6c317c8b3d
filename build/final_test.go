package build

import (
	"context"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestFinalOps: the operations that make the target's layers are the
// target stage's and its base stage's, not another stage's that it only
// copies from.
func TestFinalOps(t *testing.T) {
	b := &builder{}
	p, err := convert(context.Background(), []byte(multiStage), nil, "", nil, func(context.Context, string) (d digest.Digest, cfg []byte, err error) {
		return "", []byte(`{"architecture":"amd64","os":"linux","config":{}}`), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.load(p.def); err != nil {
		t.Fatal(err)
	}
	final := b.finalOps()
	names := map[string]bool{}
	for d := range final {
		names[b.meta[d].GetDescription()["llb.customname"]] = true
	}
	for _, want := range []string{"RUN echo made > /made", "RUN rm /gone", "COPY --from=notes", "COPY --chown=nobody:nogroup note.txt /owned", "RUN id -u > /tmp/who"} {
		found := false
		for n := range names {
			found = found || strings.Contains(n, want)
		}
		if !found {
			t.Errorf("final operations lack %q: %v", want, names)
		}
	}
	for n := range names {
		if strings.HasPrefix(n, "[notes") {
			t.Errorf("the notes stage's COPY is among the final operations")
		}
	}
}
