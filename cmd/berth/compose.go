package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/engine"
)

// The docker compose commands, with docker compose's flags: those of the
// lifecycle in up.go and compose_ops.go, `config` and `version` in their
// files; the rest are declared here until they arrive.
func composeCommands(g *globals) []*cobra.Command {
	return append([]*cobra.Command{newLoginCmd(g), newLogoutCmd(g),
		newUpCmd(g, false), newUpCmd(g, true), newWatchCmd(g), newRunCmd(g), newComposeTopCmd(g), newComposeImagesCmd(g),
		newComposePullCmd(g), newComposePushCmd(g), newComposeCpCmd(g), newComposeWaitCmd(g), newComposeScaleCmd(g),
		newComposeStatsCmd(g), newComposeAttachCmd(g), newComposeEventsCmd(g), newDownCmd(g), newPsCmd(g), newLsCmd(g), newComposeLogsCmd(g),
		newComposeExecCmd(g), newStartCmd(g), newStopCmd(g), newRestartCmd(g), newRmCmd(g), newComposePortCmd(g),
		// as in docker compose, both act on every container that is up,
		// running or paused: pausing a paused one, or unpausing a running
		// one, is an error
		newEachCmd(g, "pause [SERVICE...]", "Pause services", "Paused", up,
			func(ctx context.Context, e *engine.Engine, m engine.Member, _ string) error {
				return e.Containers.Pause(ctx, m.Record.ID)
			}),
		newEachCmd(g, "unpause [SERVICE...]", "Unpause services", "Unpaused", up,
			func(ctx context.Context, e *engine.Engine, m engine.Member, _ string) error {
				return e.Containers.Unpause(ctx, m.Record.ID)
			}),
		newEachCmd(g, "kill [OPTIONS] [SERVICE...]", "Force stop service containers", "Killed", running,
			func(ctx context.Context, e *engine.Engine, m engine.Member, sig string) error {
				return e.Containers.Kill(ctx, m.Record.ID, sig)
			}),
	}, buildAll(g, []cmdSpec{
		{use: "build [OPTIONS] [SERVICE...]", short: "Build or rebuild services", loads: true, flags: []flag{
			list("build-arg", "", "Set build-time variables for services"),
			b("no-cache", "", "Do not use cache when building the image"),
			b("pull", "", "Always attempt to pull a newer version of the image"),
			b("quiet", "q", "Don't print anything to STDOUT"),
			b("push", "", "Push service images"),
			b("with-dependencies", "", "Also build dependencies (transitively)"),
		}},
	})...)
}
