package main

import "github.com/spf13/cobra"

// The object groups of the Docker CLI (container, image, network, volume,
// system), with Docker's flags. They arrive with the containers, images,
// networks and volumes issues.
func objectCommands(g *globals) []*cobra.Command {
	format := s("format", "", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
	filter := list("filter", "", "Provide filter values")
	quiet := b("quiet", "q", "Only display IDs")
	force := b("force", "f", "Do not prompt for confirmation")
	return append([]*cobra.Command{newImageCmd(g)}, buildAll(g, []cmdSpec{
		{use: "container", short: "Manage containers", subcommands: []cmdSpec{
			{use: "run [OPTIONS] IMAGE [COMMAND] [ARG...]", short: "Create and run a new container from an image", flags: containerCreateFlags(true)},
			{use: "create [OPTIONS] IMAGE [COMMAND] [ARG...]", short: "Create a new container", flags: containerCreateFlags(false)},
			{use: "start [OPTIONS] CONTAINER [CONTAINER...]", short: "Start one or more stopped containers", flags: []flag{
				b("attach", "a", "Attach STDOUT/STDERR and forward signals"),
				b("interactive", "i", "Attach container's STDIN"),
			}},
			{use: "stop [OPTIONS] CONTAINER [CONTAINER...]", short: "Stop one or more running containers", flags: []flag{
				s("signal", "s", "", "Signal to send to the container"),
				n("timeout", "t", 0, "Seconds to wait before killing the container"),
			}},
			{use: "restart [OPTIONS] CONTAINER [CONTAINER...]", short: "Restart one or more containers", flags: []flag{
				s("signal", "s", "", "Signal to send to the container"),
				n("timeout", "t", 0, "Seconds to wait before killing the container"),
			}},
			{use: "kill [OPTIONS] CONTAINER [CONTAINER...]", short: "Kill one or more running containers", flags: []flag{
				s("signal", "s", "", "Signal to send to the container"),
			}},
			{use: "pause CONTAINER [CONTAINER...]", short: "Pause all processes within one or more containers"},
			{use: "unpause CONTAINER [CONTAINER...]", short: "Unpause all processes within one or more containers"},
			{use: "rm [OPTIONS] CONTAINER [CONTAINER...]", short: "Remove one or more containers", aliases: []string{"remove"}, flags: []flag{
				b("force", "f", "Force the removal of a running container (uses SIGKILL)"),
				b("volumes", "v", "Remove anonymous volumes associated with the container"),
			}},
			{use: "ps [OPTIONS]", short: "List containers", aliases: []string{"ls", "list"}, flags: []flag{
				b("all", "a", "Show all containers (default shows just running)"), quiet, filter, format,
				b("no-trunc", "", "Don't truncate output"),
			}},
			{use: "logs [OPTIONS] CONTAINER", short: "Fetch the logs of a container", flags: []flag{
				b("follow", "f", "Follow log output"),
				b("timestamps", "t", "Show timestamps"),
				s("tail", "n", "all", "Number of lines to show from the end of the logs"),
				s("since", "", "", "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)"),
				s("until", "", "", "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)"),
			}},
			{use: "exec [OPTIONS] CONTAINER COMMAND [ARG...]", short: "Execute a command in a running container", flags: []flag{
				b("interactive", "i", "Keep STDIN open even if not attached"),
				b("tty", "t", "Allocate a pseudo-TTY"),
				b("detach", "d", "Detached mode: run command in the background"),
				list("env", "e", "Set environment variables"),
				s("user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")"),
				s("workdir", "w", "", "Working directory inside the container"),
				b("privileged", "", "Give extended privileges to the command"),
			}},
			{use: "attach [OPTIONS] CONTAINER", short: "Attach local standard input, output, and error streams to a running container", flags: []flag{
				b("no-stdin", "", "Do not attach STDIN"),
				b("sig-proxy", "", "Proxy all received signals to the process"),
				s("detach-keys", "", "", "Override the key sequence for detaching a container"),
			}},
			{use: "inspect [OPTIONS] CONTAINER [CONTAINER...]", short: "Display detailed information on one or more containers", flags: []flag{
				s("format", "f", "", "Format output using a custom template"),
				b("size", "s", "Display total file sizes"),
			}},
			{use: "top CONTAINER [ps OPTIONS]", short: "Display the running processes of a container"},
			{use: "stats [OPTIONS] [CONTAINER...]", short: "Display a live stream of container(s) resource usage statistics", flags: []flag{
				b("all", "a", "Show all containers (default shows just running)"), format,
				b("no-stream", "", "Disable streaming stats and only pull the first result"),
				b("no-trunc", "", "Do not truncate output"),
			}},
			{use: "wait CONTAINER [CONTAINER...]", short: "Block until one or more containers stop, then print their exit codes"},
			{use: "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth container cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH", short: "Copy files/folders between a container and the local filesystem", flags: []flag{
				b("archive", "a", "Archive mode (copy all uid/gid information)"),
				b("follow-link", "L", "Always follow symbol link in SRC_PATH"),
			}},
			{use: "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", short: "Create a new image from a container's changes", flags: []flag{
				s("author", "a", "", "Author"),
				list("change", "c", "Apply Dockerfile instruction to the created image"),
				s("message", "m", "", "Commit message"),
				b("pause", "p", "Pause container during commit"),
			}},
			{use: "port CONTAINER [PRIVATE_PORT[/PROTO]]", short: "List port mappings or a specific mapping for the container"},
		}},
		{use: "network", short: "Manage networks", subcommands: []cmdSpec{
			{use: "create [OPTIONS] NETWORK", short: "Create a network", flags: []flag{
				s("driver", "d", "bridge", "Driver to manage the Network"),
				list("subnet", "", "Subnet in CIDR format that represents a network segment"),
				list("gateway", "", "IPv4 or IPv6 Gateway for the master subnet"),
				list("ip-range", "", "Allocate container ip from a sub-range"),
				b("internal", "", "Restrict external access to the network"),
				list("label", "", "Set metadata on a network"),
				list("opt", "o", "Set driver specific options"),
			}},
			{use: "ls [OPTIONS]", short: "List networks", aliases: []string{"list"}, flags: []flag{quiet, filter, format, b("no-trunc", "", "Do not truncate the output")}},
			{use: "inspect [OPTIONS] NETWORK [NETWORK...]", short: "Display detailed information on one or more networks", flags: []flag{s("format", "f", "", "Format output using a custom template")}},
			{use: "rm NETWORK [NETWORK...]", short: "Remove one or more networks", aliases: []string{"remove"}, flags: []flag{b("force", "f", "Do not error if the network does not exist")}},
			{use: "prune [OPTIONS]", short: "Remove all unused networks", flags: []flag{filter, force}},
			{use: "connect [OPTIONS] NETWORK CONTAINER", short: "Connect a container to a network", flags: []flag{
				list("alias", "", "Add network-scoped alias for the container"),
				s("ip", "", "", "IPv4 address (e.g., \"172.30.100.104\")"),
			}},
			{use: "disconnect [OPTIONS] NETWORK CONTAINER", short: "Disconnect a container from a network", flags: []flag{
				b("force", "f", "Force the container to disconnect from a network"),
			}},
		}},
		{use: "volume", short: "Manage volumes", subcommands: []cmdSpec{
			{use: "create [OPTIONS] [VOLUME]", short: "Create a volume", flags: []flag{
				s("driver", "d", "local", "Specify volume driver name"),
				list("opt", "o", "Set driver specific options"),
				list("label", "", "Set metadata for a volume"),
			}},
			{use: "ls [OPTIONS]", short: "List volumes", aliases: []string{"list"}, flags: []flag{quiet, filter, format}},
			{use: "inspect [OPTIONS] VOLUME [VOLUME...]", short: "Display detailed information on one or more volumes", flags: []flag{s("format", "f", "", "Format output using a custom template")}},
			{use: "rm [OPTIONS] VOLUME [VOLUME...]", short: "Remove one or more volumes", aliases: []string{"remove"}, flags: []flag{b("force", "f", "Force the removal of one or more volumes")}},
			{use: "prune [OPTIONS]", short: "Remove unused local volumes", flags: []flag{b("all", "a", "Remove all unused volumes, not just anonymous ones"), filter, force}},
		}},
		{use: "system", short: "Manage berth", subcommands: []cmdSpec{
			{use: "info [OPTIONS]", short: "Display system-wide information", flags: []flag{s("format", "f", "", "Format output using a custom template")}},
			{use: "df [OPTIONS]", short: "Show berth disk usage", flags: []flag{format, b("verbose", "v", "Show detailed information on space usage")}},
			{use: "prune [OPTIONS]", short: "Remove unused data", flags: []flag{
				b("all", "a", "Remove all unused images not just dangling ones"), filter, force,
				b("volumes", "", "Prune anonymous volumes"),
			}},
		}},
	})...)
}

// containerCreateFlags are the flags of `container create`, and of `container
// run` (which adds -d, --rm, -a and --sig-proxy).
func containerCreateFlags(run bool) []flag {
	f := []flag{
		s("name", "", "", "Assign a name to the container"),
		b("interactive", "i", "Keep STDIN open even if not attached"),
		b("tty", "t", "Allocate a pseudo-TTY"),
		list("env", "e", "Set environment variables"),
		list("env-file", "", "Read in a file of environment variables"),
		s("workdir", "w", "", "Working directory inside the container"),
		s("user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])"),
		s("entrypoint", "", "", "Overwrite the default ENTRYPOINT of the image"),
		s("hostname", "h", "", "Container host name"),
		b("init", "", "Run an init inside the container that forwards signals and reaps processes"),
		s("memory", "m", "", "Memory limit"),
		s("memory-swap", "", "", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
		s("memory-reservation", "", "", "Memory soft limit"),
		s("cpus", "", "", "Number of CPUs"),
		n("cpu-shares", "c", 0, "CPU shares (relative weight)"),
		s("cpuset-cpus", "", "", "CPUs in which to allow execution (0-3, 0,1)"),
		n("pids-limit", "", 0, "Tune container pids limit (set -1 for unlimited)"),
		s("shm-size", "", "", "Size of /dev/shm"),
		list("ulimit", "", "Ulimit options"),
		list("sysctl", "", "Sysctl options"),
		n("oom-score-adj", "", 0, "Tune host's OOM preferences (-1000 to 1000)"),
		b("read-only", "", "Mount the container's root filesystem as read only"),
		list("tmpfs", "", "Mount a tmpfs directory"),
		list("cap-add", "", "Add Linux capabilities"),
		list("cap-drop", "", "Drop Linux capabilities"),
		b("privileged", "", "Give extended privileges to this container"),
		list("security-opt", "", "Security Options"),
		list("device", "", "Add a host device to the container"),
		list("group-add", "", "Add additional groups to join"),
		s("restart", "", "no", "Restart policy to apply when a container exits"),
		list("label", "l", "Set meta data on a container"),
		s("stop-signal", "", "", "Signal to stop the container"),
		n("stop-timeout", "", 0, "Timeout (in seconds) to stop a container"),
		list("publish", "p", "Publish a container's port(s) to the host"),
		b("publish-all", "P", "Publish all exposed ports to random ports"),
		s("network", "", "", "Connect a container to a network"),
		list("network-alias", "", "Add network-scoped alias for the container"),
		s("ip", "", "", "IPv4 address (e.g., 172.30.100.104)"),
		list("link", "", "Add link to another container"),
		list("dns", "", "Set custom DNS servers"),
		list("dns-search", "", "Set custom DNS search domains"),
		list("dns-option", "", "Set DNS options"),
		list("add-host", "", "Add a custom host-to-IP mapping (host:ip)"),
		list("volume", "v", "Bind mount a volume"),
		list("mount", "", "Attach a filesystem mount to the container"),
		list("volumes-from", "", "Mount volumes from the specified container(s)"),
		s("platform", "", "", "Set platform if server is multi-platform capable"),
		s("pull", "", "missing", `Pull image before running ("always", "missing", "never")`),
	}
	if run {
		f = append(f,
			b("detach", "d", "Run container in background and print container ID"),
			b("rm", "", "Automatically remove the container and its associated anonymous volumes when it exits"),
			list("attach", "a", "Attach to STDIN, STDOUT or STDERR"),
			b("sig-proxy", "", "Proxy received signals to the process"),
		)
	}
	return f
}
