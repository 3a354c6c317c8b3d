package container

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/attach"
	"github.com/berth-dev/berth/errclass"
)

// Attach streams a running container's output from now until it stops, and
// returns its exit code.
func (m *Manager) Attach(ctx context.Context, ref string, o proc.AttachOptions) (int, error) {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	if !e.State.Running() {
		return 0, errclass.New(ErrState, "you cannot attach to a stopped container, start it first")
	}
	var stdin io.Reader
	if e.Record.Config.OpenStdin && !o.NoStdin {
		stdin = o.Stdin
	}
	if o.SigProxy {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sigs)
		go func() {
			for sig := range sigs {
				m.Kill(context.WithoutCancel(ctx), e.Record.ID, strconv.Itoa(int(sig.(syscall.Signal))))
			}
		}()
	}
	code, err := attach.Dial(m.root, e.Record.ID, stdin, o.Stdout, o.Stderr)
	if err != nil {
		return 0, errclass.Wrap(ErrState, err, "cannot attach to container "+e.Record.Name+": "+err.Error())
	}
	return code, nil
}
