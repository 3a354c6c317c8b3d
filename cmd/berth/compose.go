package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/engine"
)

// The docker compose commands, with docker compose's flags: those of the
// lifecycle in up.go and compose_ops.go, `config` and `version` in their
// files; the rest are declared here until they arrive.
func composeCommands(g *globals) []*cobra.Command {
	return append([]*cobra.Command{newLoginCmd(g), newLogoutCmd(g),
		newUpCmd(g, false), newUpCmd(g, true), newRunCmd(g), newDownCmd(g), newPsCmd(g), newLsCmd(g), newComposeLogsCmd(g),
		newComposeExecCmd(g), newStartCmd(g), newStopCmd(g), newRestartCmd(g), newRmCmd(g), newComposePortCmd(g),
		newEachCmd(g, "pause [SERVICE...]", "Pause services", "Paused", running,
			func(ctx context.Context, e *engine.Engine, m engine.Member, _ string) error {
				return e.Containers.Pause(ctx, m.Record.ID)
			}),
		newEachCmd(g, "unpause [SERVICE...]", "Unpause services", "Unpaused",
			func(m engine.Member) bool { return m.State.Status == container.Paused },
			func(ctx context.Context, e *engine.Engine, m engine.Member, _ string) error {
				return e.Containers.Unpause(ctx, m.Record.ID)
			}),
		newEachCmd(g, "kill [OPTIONS] [SERVICE...]", "Force stop service containers", "Killed", running,
			func(ctx context.Context, e *engine.Engine, m engine.Member, sig string) error {
				return e.Containers.Kill(ctx, m.Record.ID, sig)
			}),
	}, buildAll(g, []cmdSpec{
		{use: "top [SERVICES...]", short: "Display the running processes"},
		{use: "events [OPTIONS] [SERVICE...]", short: "Receive real time events from containers", flags: []flag{
			b("json", "", "Output events as a stream of json objects"),
			s("since", "", "", "Show all events created since timestamp"),
			s("until", "", "", "Stream events until this timestamp"),
		}},
		{use: "images [OPTIONS] [SERVICE...]", short: "List images used by the created containers", flags: []flag{
			b("quiet", "q", "Only display IDs"),
			s("format", "", "table", "Format the output. Values: [table | json]"),
		}},
		{use: "pull [OPTIONS] [SERVICE...]", short: "Pull service images", loads: true, flags: []flag{
			b("ignore-pull-failures", "", "Pull what it can and ignores images with pull failures"),
			b("include-deps", "", "Also pull services declared as dependencies"),
			b("quiet", "q", "Pull without printing progress information"),
			s("policy", "", "", `Apply pull policy ("missing"|"always")`),
			b("ignore-buildable", "", "Ignore images that can be built"),
		}},
		{use: "push [OPTIONS] [SERVICE...]", short: "Push service images", loads: true, flags: []flag{
			b("ignore-push-failures", "", "Push what it can and ignores images with push failures"),
			b("include-deps", "", "Also push images of services declared as dependencies"),
			b("quiet", "q", "Push without printing progress information"),
		}},
		{use: "build [OPTIONS] [SERVICE...]", short: "Build or rebuild services", loads: true, flags: []flag{
			list("build-arg", "", "Set build-time variables for services"),
			b("no-cache", "", "Do not use cache when building the image"),
			b("pull", "", "Always attempt to pull a newer version of the image"),
			b("quiet", "q", "Don't print anything to STDOUT"),
			b("push", "", "Push service images"),
			b("with-dependencies", "", "Also build dependencies (transitively)"),
		}},
		{use: "cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH", short: "Copy files/folders between a service container and the local filesystem", flags: []flag{
			b("archive", "a", "Archive mode (copy all uid/gid information)"),
			b("follow-link", "L", "Always follow symbol link in SRC_PATH"),
			n("index", "", 0, "Index of the container if service has multiple replicas"),
			b("all", "", "Include containers created by the run command"),
		}},
		{use: "wait SERVICE [SERVICE...] [OPTIONS]", short: "Block until containers of all (or specified) services stop.", flags: []flag{
			b("down-project", "", "Drops project when the first container stops"),
		}},
		{use: "watch [SERVICE...]", short: "Watch build context for service and rebuild/refresh containers when files are updated", loads: true, flags: []flag{
			b("no-up", "", "Do not build & start services before watching"),
			b("prune", "", "Prune dangling images on rebuild"),
			b("quiet", "", "hide build output"),
		}},
		{use: "scale [SERVICE=REPLICAS...]", short: "Scale services", flags: []flag{
			b("no-deps", "", "Don't start linked services"),
		}},
		{use: "stats [OPTIONS] [SERVICE]", short: "Display a live stream of container(s) resource usage statistics", flags: []flag{
			b("all", "a", "Show all containers (default shows just running)"),
			s("format", "", "", "Format output using a custom template"),
			b("no-stream", "", "Disable streaming stats and only pull the first result"),
			b("no-trunc", "", "Do not truncate output"),
		}},
		{use: "attach [OPTIONS] SERVICE", short: "Attach local standard input, output, and error streams to a service's running container", flags: []flag{
			s("detach-keys", "", "", "Override the key sequence for detaching from a container."),
			n("index", "", 0, "index of the container if service has multiple replicas."),
			b("no-stdin", "", "Do not attach STDIN"),
			b("sig-proxy", "", "Proxy all received signals to the process"),
		}},
	})...)
}
