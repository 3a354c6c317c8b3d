package build

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/solver/pb"
)

// describe remembers what made the new top layer of each of outs, as
// BuildKit's cache records describe their refs: its exporter names a
// layer the history has no entry for by that description (a stage FROM
// a directory context, whose layer the frontend's history lacks).
func (b *builder) describe(op *pb.Op, name string, outs []*fsState) {
	for i, st := range outs {
		if st.plain != "" || len(st.layers) == 0 {
			continue
		}
		dir := st.layers[len(st.layers)-1].dir
		if _, ok := b.descs[dir]; ok {
			continue
		}
		switch o := op.Op.(type) {
		case *pb.Op_Exec:
			dest := pb.RootMount
			for _, m := range o.Exec.Mounts {
				if m.Output == int64(i) {
					dest = m.Dest
				}
			}
			b.descs[dir] = fmt.Sprintf("mount %s from exec %s", dest, strings.Join(o.Exec.GetMeta().GetArgs(), " "))
		case *pb.Op_File:
			b.descs[dir] = name
		}
	}
}

// layerDescriptions are the descriptions of layers, "" where none is
// known.
func (b *builder) layerDescriptions(layers []layer) []string {
	out := make([]string, len(layers))
	for i, l := range layers {
		out[i] = b.descs[l.dir]
	}
	return out
}
