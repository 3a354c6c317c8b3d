package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/api"
)

// The docker compose commands, with docker compose's flags: those of the
// lifecycle in up.go and compose_ops.go, `config` and `version` in their
// files, build in compose_build.go; the rest are declared here.
func composeCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newLoginCmd(g), newLogoutCmd(g),
		newUpCmd(g, false), newUpCmd(g, true), newWatchCmd(g), newRunCmd(g), newComposeTopCmd(g), newComposeImagesCmd(g),
		newComposePullCmd(g), newComposePushCmd(g), newComposeCpCmd(g), newComposeWaitCmd(g), newComposeScaleCmd(g),
		newComposeStatsCmd(g), newComposeAttachCmd(g), newComposeEventsCmd(g), newDownCmd(g), newPsCmd(g), newLsCmd(g), newComposeLogsCmd(g),
		newComposeExecCmd(g), newStartCmd(g), newStopCmd(g), newRestartCmd(g), newRmCmd(g), newComposePortCmd(g),
		newEachCmd(g, "pause [SERVICE...]", "Pause services", func(ctx context.Context, e api.Service, name string, services []string, _ string) error {
			return e.Pause(ctx, name, services)
		}),
		newEachCmd(g, "unpause [SERVICE...]", "Unpause services", func(ctx context.Context, e api.Service, name string, services []string, _ string) error {
			return e.Unpause(ctx, name, services)
		}),
		newEachCmd(g, "kill [OPTIONS] [SERVICE...]", "Force stop service containers", func(ctx context.Context, e api.Service, name string, services []string, sig string) error {
			return e.Kill(ctx, name, services, sig)
		}),
		newComposeBuildCmd(g),
	}
}
