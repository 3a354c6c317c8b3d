package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/errclass"
)

// runHooks runs a service's lifecycle hooks (post_start, pre_stop) in one
// of its running containers, in order, as compose does: each an exec with
// its own user, working directory and environment. The first that fails
// stops the rest.
func (e *Engine) runHooks(ctx context.Context, kind, name, id string, hooks []types.ServiceHook) error {
	for _, h := range hooks {
		e.event("Container", name, "Running "+kind+" hook")
		code, err := e.processes.Exec(ctx, id, hookExec(h, io.Discard, io.Discard))
		if err != nil {
			return fmt.Errorf("container %s: %s hook: %w", name, kind, err)
		}
		if code != 0 {
			return errclass.New(ErrFailed, "container %s: %s hook %v exited with code %d", name, kind, []string(h.Command), code)
		}
	}
	return nil
}

// hookExec is the exec of a hook (post_start, pre_stop, watch's
// sync+exec): its command with its own user, working directory,
// environment and privileges.
func hookExec(h types.ServiceHook, stdout, stderr io.Writer) proc.ExecOptions {
	return proc.ExecOptions{Cmd: h.Command, User: h.User, WorkDir: h.WorkingDir, Privileged: h.Privileged, Env: envList(h.Environment),
		Stdout: stdout, Stderr: stderr}
}

// preStop runs the pre_stop hooks of a running container's service, as
// last applied (the project's files are not needed to stop it); a failed
// hook is reported, and the container stopped all the same.
func (e *Engine) preStop(ctx context.Context, m api.Member) {
	if !m.State.Running() || m.Oneoff {
		return
	}
	s := e.remembered(m)
	if len(s.PreStop) == 0 {
		return
	}
	if err := e.runHooks(ctx, "pre_stop", m.Record.Name, m.Record.ID, s.PreStop); err != nil {
		e.warn(err.Error())
	}
}

// remembered is the configuration of a member's service as last applied
// (see remember); empty when berth has none.
func (e *Engine) remembered(m api.Member) types.ServiceConfig {
	var s types.ServiceConfig
	data, err := os.ReadFile(filepath.Join(e.root, "projects", m.Record.Config.Labels[LabelProject], m.Service+".json"))
	if err == nil {
		json.Unmarshal(data, &s)
	}
	return s
}
