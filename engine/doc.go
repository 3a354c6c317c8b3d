// Package engine is the local compose backend, the first implementation
// of api.Service: a reconciler that observes what runs for a project
// (containers, networks and volumes found by their com.docker.compose.*
// labels), plans what the project's files ask for (create, recreate,
// start, keep, remove, each with its reason), and applies the plan in
// dependency order with project.Graph.Walk.
//
// # What it acts through
//
// The engine never touches the runtime, the network stack or a store
// itself: it acts through the small interfaces of parts.go, Containers
// (the lifecycle), Processes (exec, attach, logs, top, stats, cp),
// Networks (opened for one operation), Volumes, Images and Events (a
// source of container state changes), each with its contract and error
// classes. New wires this machine's (local.go): thin adapters over
// container.Manager, netns.Store (OpenHost), the volume and image stores,
// and an fsnotify watch of the container store. The unit tests wire an
// in-memory machine that records the calls in order (fake_test.go), as
// docker compose tests its backend against a mocked API; the real paths
// are the integration suite's.
//
// # Names and labels (names.go)
//
// Containers are <project>-<service>-<n> (or container_name), networks
// and volumes as compose-go names them (<project>_<key>), each with docker
// compose's labels (com.docker.compose.project, service,
// container-number, oneoff, config-hash, project.working_dir,
// project.config_files, version, depends_on). Everything is found again
// by them, so ps, logs, stop, start, down and the rest need only -p NAME.
//
// # Up (up.go)
//
// Every service is converted to container.CreateOptions first, once
// (convert.go, the options `container create` takes; each replica copies
// them with its own name, number and anonymous volumes). The typed fields
// (links, volumes_from, ports, expose, extra hosts, pid/ipc of another
// container, the restart policy, device rules) are built straight from
// compose-go's types, never as Docker-CLI strings parsed again, and
// CreateOptions.Validate, which container.Create calls too, checks them as
// it checks the CLI's flags: a setting is taken, or refused with the same
// words, from either. So a setting berth refuses stops the up with nothing
// made; then images (pulled as
// pull_policy says, or built, once per service: a missing image or a
// failed build fails before anything is made), networks and volumes, then Graph.Walk over the
// services asked for and their dependencies, independent services at
// once (--parallel). Each service first waits for its depends_on
// conditions (Wait for completion, WaitHealthy for health: both on
// events, not timers), then is planned: per container create, recreate
// (the config hash or the image changed, a namespace it shares was
// recreated, or --force-recreate), start, keep, restart (a dependency
// with depends_on restart: true was recreated) or remove (scaled down),
// each with a reason. The reason for a changed hash compares the
// service's hashed form as last applied,
// <root>/projects/<project>/<service>.json, field by field
// ("environment.GREETING changed"). A recreated container's successor is
// converted before the predecessor stops (a service that cannot be
// converted leaves it running); the predecessor is removed keeping its
// anonymous volumes, which the successor mounts at the same targets (-V
// gives fresh ones). The handover is written first
// (<root>/projects/<project>/handover/<container>.json, handover.go) and
// removed once the successor exists, so an up killed in between leaves
// the volumes to the next up's successor, and down -v removes what a
// handover still names. Orphans (containers of services the files no
// longer have) are reported, or removed with --remove-orphans. A failure
// stops what had not begun and leaves what runs running, as compose does;
// the next up completes the rest. up and down hold
// <root>/projects/<project>.lock, so two of them on one project take
// turns.
//
// # Down, stop, start, restart, wait (down.go)
//
// Containers are ordered by their depends_on labels (layers), dependents
// first for stopping, so no compose file is needed; a layer's containers
// go at once. down halts every container (Containers.Halt: back at the
// recorded exit, without waiting for the monitor's clean-up), then
// removes the networks while the containers are removed (Remove waits for
// each monitor): a bridge's deletion, tens of milliseconds in the kernel,
// overlaps the monitors'; the networks' events still come after the
// containers', as compose prints them. -v removes the project's volumes
// after its containers, --rmi their images (those still in use stay).
// restart SERVICE also restarts the services that depend on it with
// restart: true, read from the same labels, unless --no-deps; like
// compose's, it leaves one-off containers be and runs post_start again.
// up --wait waits for each container until healthy or, without a
// healthcheck, until it has run half a second (docker compose's first
// look, at 500 ms); a one-shot that exited 0 counts as done.
//
// # The rest
//
//   - files.go: secrets and configs as read-only binds at
//     /run/secrets/NAME and /NAME (or their targets); a file source is
//     bound as it is, as compose does, unless uid, gid or mode ask for a
//     copy; environment and content sources are written under
//     <root>/projects/<project>/files/<container>/.
//   - hooks.go: post_start runs as an exec after each start; pre_stop
//     before each stop, down and recreation, read from the service as
//     last applied, so a down without the files runs it too.
//   - run.go: compose run brings up the service's dependencies, then a
//     one-off container of the service's options with the command's over
//     them, <project>-<service>-run-<12 hex>, labelled oneoff=True,
//     without the service's ports or aliases unless asked.
//   - build.go: compose build and the builds of up, run and create,
//     through the Builds interface (package build in the local one). A
//     service with build: is built when its pull_policy is build (up
//     --build sets it, as compose does) or its image is missing and
//     cannot be pulled; --no-build builds nothing. Every service's
//     build: section is mapped onto build.Options before the first build
//     (a key berth cannot honour with the value given refused, naming
//     it); the image is named <project>-<service> unless image: is set,
//     plus build.tags. A rebuild that gives the same image as before
//     (the same layers, the same config but for the times) keeps the old
//     image's ID, so up recreates nothing for it, as a cached BuildKit
//     rebuild gives the same digest; a new image ID recreates the
//     service's containers ("image updated").
//   - watch.go: develop.watch's actions (package watch's loop) on the
//     running containers: changed files copied in as one tar stream,
//     removed ones deleted through the rootfs, restarts, sync+exec, and
//     rebuild (build, then up of the service).
//   - events.go: compose events from the event source's changes: create,
//     start, kill (one per signal kill and stop sent, from State.Signals),
//     die (with its exitCode), stop (after the die of a stopped
//     container), pause, unpause, destroy and health changes, with the
//     container's non-compose labels, image and name as attributes.
//   - attach.go, follow.go: an attached up follows every container's log
//     and reports each exit to an api.LogConsumer; the engine, not the
//     CLI, owns the Ctrl-Cs: the first stops the project and Attach waits
//     for that stop before it returns 130, the second kills. The following
//     (the containers there are, then those Events reports starting) also
//     serves logs -f, so a scale or a recreation shows in both.
//   - boot.go: what Docker's daemon restores at its start, after a
//     reboot: every network made again, --rm containers removed, each
//     restorable container started once its depends_on conditions and
//     the containers whose namespaces it joins or that it links to are
//     up; independent ones at once, waits that would close a cycle
//     dropped, each wait bounded (BootOptions.WaitTimeout); one error per
//     container that cannot be restored. <root>/boot.lock keeps two boots
//     apart, and each project restored is locked as an up locks it.
//
// Progress goes to Engine.Report, one call per object's change
// ("Container", "p-web-1", "Started"), serialised; warnings to Warn.
package engine
