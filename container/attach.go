package container

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/berth-dev/berth/errclass"
)

// AttachOptions are `attach`'s settings.
type AttachOptions struct {
	// NoStdin does not attach input. Input can only be given to a container
	// when it starts (run -i, start -ai): attaching it later is refused.
	NoStdin bool
	// SigProxy forwards SIGINT and SIGTERM to the container, as Docker does.
	SigProxy       bool
	Stdout, Stderr io.Writer
}

// Attach streams a running container's output from now until it stops, and
// returns its exit code.
func (m *Manager) Attach(ctx context.Context, ref string, o AttachOptions) (int, error) {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	if !e.State.Running() {
		return 0, errclass.New(ErrState, "you cannot attach to a stopped container, start it first")
	}
	if e.Record.Config.OpenStdin && !o.NoStdin {
		return 0, errclass.New(ErrInvalid, "attaching the input of a running container is not supported yet: use --no-stdin, or give input when it starts (run -i)")
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
	if err := m.Logs(ctx, e.Record.ID, LogOptions{Follow: true, Tail: 0}, o.Stdout, o.Stderr); err != nil {
		return 0, err
	}
	return m.Wait(ctx, e.Record.ID)
}
