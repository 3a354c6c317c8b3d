package build

import (
	"context"

	"github.com/moby/buildkit/solver/pb"

	"github.com/berth-dev/berth/errclass"
)

// merge executes a merge operation (COPY --link: the state below and
// the copy made on scratch): the inputs' layers stacked, the first
// input's at the bottom, as BuildKit stacks them in its image. Nothing
// is copied: each layer is the one its input made.
func (b *builder) merge(ctx context.Context, m *pb.MergeOp, inputs []*fsState, name string) ([]*fsState, error) {
	step := b.progress.start(name)
	out := &fsState{}
	for _, mi := range m.Inputs {
		if mi.Input < 0 || int(mi.Input) >= len(inputs) {
			err := errclass.New(ErrInvalid, "%s: the merge names input %d, which is not there", name, mi.Input)
			step.fail(err)
			return nil, err
		}
		// a directory (a named context a stage is FROM) as its layer
		in, err := b.layered(ctx, inputs[mi.Input])
		if err != nil {
			step.fail(err)
			return nil, err
		}
		out.layers = append(out.layers, in.layers...)
	}
	step.done()
	return []*fsState{out}, nil
}
