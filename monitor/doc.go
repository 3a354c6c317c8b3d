// Package monitor is what runs beside each container for as long as it
// runs: the monitor process (berth-monitor, or berth's own hidden
// __monitor where that program is missing), which starts the container,
// supervises it between runs, and cleans up after it. It owns, for its
// container: the network join (a namespace made ahead of the container, a
// veth into each network's bridge, an address from each network's IPAM;
// network.go), the DNS entries and the embedded resolver's sockets on
// 127.0.0.11 (dns.go), the published host ports (ports.go), the
// generated /etc/hosts, /etc/hostname and /etc/resolv.conf (etc.go, which
// the client also writes once at create), the health probes (health.go),
// the restart policy, and the recording of each exit (exit.go).
//
// It links libcontainer (through package runtime), netlink and nftables
// (package netns), but not the CLI, the compose loader or the registry
// client: package container, the client API, starts monitors and imports
// this package for what both sides need (RunDir, the status pipe's
// messages, the process checks, the network join for connect); this
// package never imports container. The one thing the monitor asks of the
// client is the removal of a --rm container (Remove, given to Run by the
// command: container.AutoRemove), which takes the client's intents and
// volume checks.
//
// # Processes
//
// No daemon: each berth command loads state, acts and exits. What must
// outlive a command is, per running container:
//
//	berth (Manager.Start) → berth-keeper → berth-monitor ⇄ berth-shim → container init
//
// The starting command (container.Manager.Start, which up, start, run and
// restart all go through) spawns the monitor's keeper (package keeper;
// berth-monitor __keeper or berth __keeper without berth-keeper) in a
// session of its own, moves it out of its own cgroup into berth's
// (runtime.PlaceMonitor: a systemd scope in berth.slice, else
// /berth/monitors), and then writes the byte the keeper waits for on its
// descriptor 3. The keeper becomes a child subreaper and runs the monitor
// (`--root ROOT __monitor ID`, Run) with the command's pipes (status,
// attached output and input) as its descriptors 3 and up, keeping no
// copy, so an attached caller still hears the end of a monitor that died.
//
// The monitor joins the networks, writes the etc files, publishes the
// ports, opens the resolver's sockets, readies the volumes' host mounts,
// creates and starts the container through package runtime (it is the
// parent of the container's init), records the run's start (status
// running, PIDs, its keeper, the boot ID, endpoints, ports, health
// "starting": one write) and reports it on the status pipe. Its keeper
// is recorded with the rest (State.Keeper, KeeperStart; the keeper names
// itself in BERTH_KEEPER, so a monitor started by hand records none).
//
// Once the container runs (and has not ended within 50 ms: a one-shot is
// waited for in place, the exec there and back would cost it more than
// it saves), the monitor waits as berth-shim (package shim): it execs that
// small program with a handoff (the init's PID and every descriptor the
// waiting needs, in a memfd; handoff.go), keeping its PID and so the
// parenthood of the init. The shim drains stdout and stderr into
// <id>-json.log (Docker's json-file format, package jsonlog, rotated by
// max-size and max-file; a line over 16 KiB split as Docker splits it),
// serves attach (an abstract Unix socket per container, package attach)
// and DNS, runs each health probe as a `__probe ID` child (Probe), records
// the exit and execs the monitor again (`__monitor ID --handoff=FD`) for
// the clean-up and the restart policy. Where berth-shim is missing the
// monitor waits in its own process, with the same shim.Wait. With -i the
// monitor holds the container's stdin (open and empty with nobody
// attached, as in Docker); with -t it holds the PTY master (libcontainer
// sends it over a console socket), logs its one stream as stdout and
// forwards input; the caller's terminal size is set before the process
// starts. A monitor is known by its PID and its process's start time (Of),
// which an exec keeps: a dead monitor's PID can be reused.
//
// A container's healthcheck (Record.Health: the image's HEALTHCHECK merged
// with the service's or --health-*) is probed as an exec in the container
// after each interval (start_interval during start_period, whose failures
// do not count), and State.Health is recorded with Docker's rules: retries
// failures in a row make it unhealthy, one success healthy, and the last
// five results are kept for inspect.
//
// Between runs the monitor applies the restart policy (shim.Policy, one
// rule for the shim and the monitor) with Docker's back-off: 100 ms,
// doubling, back to 100 ms after 10 s of running. A stop or restart
// wakes it from the back-off with SIGUSR1; a stop (StopRequested) since
// the exit has the last word. When the container has stopped for good,
// a --rm container is removed (Remove) before the exit is reported, so
// that run --rm returns with nothing of it left.
//
// # The status pipe
//
// The command that started the monitor reads Report messages from the
// status pipe, one JSON object per line (report.go): ReportStarted (with
// the init's PID) once the container's process runs, or ReportFailed
// (with Docker's exit code 125, 126 or 127 and the reason on one line) if
// it could not start it, after which the monitor ends; then, to an
// attached caller, ReportExited with the exit code once the container has
// stopped for good (restarts included) and, with --rm, been removed.
// Attached, the caller also gets the output through two more pipes.
// Nothing else is sent; the recovery monitor has no caller and sends
// nothing.
//
// # Exits
//
// The exit is recorded twice over, on purpose: the shim records it in the
// state at once (status, code, time, OOM kill: shim.RecordExit, through
// record.State.Exit), so that stop, down and wait do not wait for the
// monitor's exec; a run that the restart policy follows is recorded
// restarting in the same write, never exited in between, as in Docker.
// The monitor, after its exec, sees the exit recorded and leaves it as it
// is: it only takes the endpoints off the state and leaves the networks
// (recordExit; it records the exit itself only when it waited in
// process, or the shim could not write it). The endpoints stay in the
// state until whoever comes first takes them off under the container's
// lock and leaves the networks: the monitor, or a down (container's
// Manager.Halt, through LeaveAfterExit) that is about to remove those
// networks. Every move of the status goes through the state machine
// (record.State.To); a move it refuses (the container is being removed)
// ends the monitor's loop with that error rather than a restart.
//
// A state that cannot be written (the root's disk is full) does not make
// a dead process look alive: the monitor keeps the exit (code, time, OOM
// kill, the run's PID) in memory, <run dir>/exits/<id>.json under /run
// (PendingExit), and the next command that reads the container records
// it, or, while the disk is still full, shows it exited with that code and
// State.Error saying why it is not recorded.
//
// A container that a down halted (State.Halted) is not handed back to the
// monitor: the shim records the exit and ends, and the down, which removes
// the container next, cleans up after it in its own process.
//
// # Crashes and recovery
//
// When the monitor ends by itself its keeper ends. When a signal kills it
// (SIGKILL, the OOM killer), nothing can supervise the container any
// more: its output pipes died with the monitor (its next write would
// fail) and only a parent can learn its exit status. So berth stops it,
// as Docker does when a container's shim dies, and at once: the keeper
// starts the recovery monitor (`__monitor ID --recover`, Recover), after
// a back-off that grows while recoveries die at once (100 ms doubling, up
// to 10 s). That kills the container's init through the runtime, which
// first checks that the process is still the container's init (a reused
// PID is never signalled), records the exit (137, with the reason; 255 if
// it had already gone), removes the runtime leftovers and networks
// (Reclaim, CleanRuntime), and goes on as the monitor's own loop from
// that exit: always, unless-stopped and on-failure restart it after the
// back-off with RestartCount one more (Docker shows 1), no leaves it
// exited; a stop or down is never undone. The keeper is a child
// subreaper, so the dead monitor's orphans (the init first) are its
// children and reaped. What the dead monitor had not read of the
// container's output is lost with its pipes, as with Docker's shim.
//
// A killed keeper leaves its monitor running, supervised as before, but
// unguarded: should the monitor die too (or both, or a reboot), the next
// command that reads the container stops it the same way
// (container.Manager.Refresh, through Reclaim), and while a keeper lives
// that command waits for its recovery (10 s at most) instead of competing
// with it. So ps never shows as running a container nobody supervises.
// The init gets no parent-death signal: the kernel sends it when the
// parent thread ends, and the init's parent is a thread of a Go process
// that later execs (berth-shim), which ends every other thread: the
// container would die at the handoff.
//
// A reboot takes every process, mount, veth and /run/berth: each start
// records the kernel's boot ID (BootID), and a state from another boot
// (OtherBoot) is never taken for a live monitor's, whatever its PIDs now
// name (see package container for what a reboot records).
package monitor
