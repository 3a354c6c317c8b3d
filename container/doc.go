// Package container is berth's client of its containers: it creates,
// starts, stops, removes, inspects and lists them (Manager), execs into
// them, copies files in and out, commits them, and reads their logs and
// events. Every berth command that touches a container goes through it;
// the compose engine creates its containers through it too.
//
// Records, states and the state machine are package record's: this
// package changes them through record.Store, as every other process does.
// What runs beside a container while it runs (the monitor: network join,
// DNS, ports, /etc files, health probes, restarts, exits) is package
// monitor's. Manager.Start starts a monitor as a process of its own (its
// keeper's child, see package monitor and package keeper) and reads its
// Report messages on the status pipe; this package imports monitor for
// those and for what both sides share (the run directory, the process
// checks, the network join of connect), never the other way round. What
// the Manager asks of the runtime itself (exec, pause, stats, top) goes
// through its Runtime, set once when it is opened, whose doc comment is
// the contract; package runtime's is the one there is.
//
// # Commands and Docker's rules
//
// run follows Docker's rules: --entrypoint replaces the image's
// entrypoint and clears its Cmd, a command replaces Cmd; the environment
// is PATH and HOSTNAME defaults, then the image's, then -e (a bare -e NAME
// passes the caller's value); users are resolved in the image's
// /etc/passwd and /etc/group (top-most layer), supplementary groups
// included; /etc/hosts, /etc/hostname and /etc/resolv.conf are generated
// and bind-mounted (monitor.WriteEtc: /etc/hosts names the container by
// hostname.domainname and its bare hostname, as Docker's does;
// --domainname also sets the UTS domain). Exit codes: the container's
// own, or 125 (berth could not create or start it), 126 (not executable),
// 127 (not found). exec follows Docker's exec instead: 127 when the
// command is not there, 126 for any other reason it cannot run (a
// directory, no permission, a working directory or -u user that does not
// exist); a paused or stopped container is an error (exit 1), as is
// pausing a paused container or unpausing a running one.
//
// exec joins the running container's namespaces through libcontainer from
// the calling process (which is its parent), with a PTY on -t whose size
// follows SIGWINCH. Stop and wait watch the monitor through a pidfd; logs
// -f waits on inotify and the monitor's pidfd.
//
// cp (and watch's sync and delete) works on the container's files through
// a descriptor of its root: a running container's own view, /proc/PID/root
// (its volumes and tmpfs mounts included, as docker cp sees them), or a
// mount of a stopped one's rootfs made for the copy through runtime. A
// running container can change its files while the copy runs, and a path
// resolved once and then walked again by name can meet a symlink swapped
// in between (renameat2 RENAME_EXCHANGE in a loop: the CVE-2018-15664
// class), which the host would follow onto its own files. So tarfs
// resolves each directory inside the root at the moment of use (openat2
// RESOLVE_IN_ROOT, through pathrs-lite), and every other step is an *at
// call on that directory's descriptor with one name that is never
// followed; chmod, times and xattrs go through /proc/self/fd of the very
// file. docker cp's rules for directories, /. and - are kept. Docker's
// answer was to do the copy in the container's mount namespace, or with
// it paused; descriptors need neither, so a copy never freezes the
// container. TestCopyRace runs the attack against 200 copies each way.
//
// commit archives the overlay's upper directory with whiteouts turned back
// into .wh. entries (tarfs overlay mode), skipping what the runtime mounted
// over, and appends it to the container's image with the container's
// config. attach (package attach) connects to the attach point the monitor
// serves, an abstract Unix socket per container: output from now on in
// frames by stream, then the exit code; input goes to the container's
// stdin when it was created with -i (kept open for the next client when
// one ends it, as Docker keeps it); signals are forwarded.
//
// # Starting, stopping, refreshing
//
// Start waits for a monitor still cleaning up after the last run, cleans
// up after a halted container that was not removed, and clears the stop
// request, so the restart policy applies again, as after Docker's manual
// stop. It records the keeper it spawned in the state (with that
// clearing) before the keeper may go on; a second start that finds that
// keeper alive and the container not yet running waits for it (the
// container running, or the keeper gone) instead of cleaning up under a
// monitor that is starting the container. Halt (down's stop) returns as
// soon as the exit is recorded and the container is off its networks,
// while its monitor still cleans up; Remove waits for the monitor.
//
// Commands refresh what they look at first (Refresh), so ps never shows
// as running a container nobody supervises: a container whose monitor
// died is stopped and recorded exited (monitor.Reclaim), after waiting
// for its keeper's recovery while the keeper lives (see package monitor);
// an exit its monitor could not write (a full disk) is recorded from
// where the monitor kept it, or shown from there while the disk is still
// full.
//
// A reboot takes every process, mount, veth, bridge and nftables table,
// and /run/berth, and leaves the state files saying running, with PIDs
// that may since be other processes' (start times included). So each
// start records the kernel's boot ID in the state, and a running, paused
// or restarting state from another boot (or, written before the boot ID
// was kept, started before this boot with no live monitor) is the
// reboot's: Refresh records it exited with 255, as Docker's daemon records
// a container whose task is gone at its start (ps: Exited (255)), sets
// State.Rebooted, gives back what outlives the boot on disk (its
// addresses, its published ports) and signals, waits for or releases
// nothing by PID or interface name. NetworkUsers reads the states without
// refreshing them, since its caller holds the networks' lock, which a
// refresh may take. Restorable is berth system boot's choice, by restart
// policy (Docker's ShouldRestart at daemon start): a container whose last
// run was in an earlier boot, always; unless-stopped unless stopped by
// hand; on-failure if the reboot stopped it and retries remain; never no.
// Restore starts it with RestartCount back at 0, as Docker's daemon does
// (its containerStart resets the restart manager), and its health back at
// starting, so that a dependent waiting for health never takes the last
// boot's verdict. A container that ran in this boot is not restorable, so
// a second boot changes nothing and one stopped by hand since stays
// stopped.
//
// # Crash safety
//
// A berth command can be killed at any instruction (SIGKILL, the OOM
// killer, a closed terminal's SIGHUP, a power cut). Every multi-step
// change is written so that the next command that opens the container
// store (every CLI command that touches containers, through
// Manager.Sweep) finishes or rolls back what the killed one left, and
// never touches work in progress:
//
//   - An intent before the first side effect. Creating a container
//     (anonymous volumes made and filled through a mounted view of the
//     image's layers, the record and state written, the etc files) and
//     removing one (runtime container, rootfs and /dev/shm mounts, cgroup,
//     networks, directory, anonymous volumes with -v) first write
//     <root>/containers/.intents/<id>.json: the acting process (PID and
//     start time, so a reused PID is never taken for it) and the anonymous
//     volumes at stake, which a create names before it makes them
//     (volumes.NewName). The create's image view is <id>.view beside it.
//     The last step removes the intent. An intent whose process is gone is
//     finished by the sweep: a create rolled back, a remove carried
//     through, the same work (Manager.finish), every step of which may
//     already have been taken (unmounts of what is not mounted, removal of
//     what is gone). The anonymous volumes an intent names go unless a
//     container uses them; named volumes are never an intent's.
//   - In-use checks fail closed (users.go). List leaves out a container
//     whose record cannot be read (for ps, a half-made container is not
//     there yet), but VolumeUsers, ImageInUse, SnapshotsInUse and
//     NetworkUsers return ErrConflict for it ("is being created ... try
//     again"): what it uses is unknown, and "unused" would let a prune or
//     an rm take the image or volume a create is about to use. A container
//     a live process is removing is left out: it gives up what it used.
//   - Records that never look whole when they are not. record.Store.Delete
//     takes config.json away first; a directory without config.json or
//     state.json and without an intent (a berth without intents, a removal
//     that got that far) is removed by the sweep, mounts first.
//   - Orphans by owner. What belongs to a container that has neither a
//     directory nor an intent is given back by the package that owns it:
//     the runtime's state and cgroup (monitor.CleanRuntime), network
//     namespaces, DNS entry files (dns.Sweep), published ports and
//     addresses (netns.Sweep). A volume directory without meta.json (its
//     create or remove was cut short, under the volume store's lock, which
//     the sweep takes too) and a copy-up's temporary directory whose
//     process (named in it) is gone go with volumes.Store.Sweep; a copy-up
//     is renamed over the empty _data in one step, so a volume's data is
//     whole or not there yet.
//   - Idempotent steps. monitor.CleanRuntime unmounts the bundle's rootfs
//     and /dev/shm even when libcontainer's state is gone (a process
//     killed between Destroy and the unmount), and removes every DNS entry
//     of the container, not only those its state still names. A halted
//     container leaves its networks before its endpoints are taken off its
//     state, so a kill in between leaves them recorded for the next
//     clean-up. IPAM gives an endpoint the address it already holds rather
//     than refusing its own static address. A libcontainer state directory
//     left empty is removed (runtime.Runtime.Forget).
//   - Cost. With nothing to do, the sweep is a few directory reads and
//     takes no lock; with something to do, it works under the container
//     store's lock (so two sweeps take turns), per object.
//   - Testing. BERTH_TEST_CRASH_AT=STEP (package internal/crash) makes the
//     command SIGKILL itself at a named step; the variable is taken out of
//     the environment at start, so monitors and keepers never inherit it.
//     integration/crash_test.go kills up -d and down -v of a project at
//     each step and checks that the next command leaves nothing that no
//     command sees, the next up converges, down -v leaves nothing at all,
//     and the named volume's data is kept.
//
// A failed create (an error, or its context cancelled by a sibling's
// failure) does the same clean-up in its own process, uncancelled: no
// anonymous volume it made outlives it. The anonymous volumes a recreated
// container hands to its successor are the engine's (see package engine:
// the handover), kept for the next attempt.
package container
