// Package record keeps berth's containers on disk: what each one is (its
// [Record]), what it is doing (its [State]), and the [Store] that reads and
// writes them. It is a leaf: it links neither libcontainer nor the network
// code, so that every process that touches a container's files (the berth
// command, the monitor, its waiting program berth-shim, the keeper) uses
// the same types, the same lock and the same state machine.
//
// # Vocabulary
//
//   - A Record is what a container is, fixed when it is created: name,
//     image, command, the runtime's [spec.Spec], the parts of Docker's
//     config and host config that berth keeps ([Config], [HostConfig]),
//     its healthcheck and the volumes its mounts use. Only network connect
//     and disconnect change it later ([Store.UpdateRecord]).
//   - A State is what a container is doing: its [Status], the PIDs of its
//     init, its monitor and the monitor's keeper (with their start times,
//     which tell them from later processes with the same PIDs), the last
//     exit, restarts, health, its endpoints and published ports while it
//     runs, and the boot it ran in.
//   - An [Entry] is both, as [Store.List] and [Store.Get] return them.
//
// # Layout
//
// <root>/containers/<id>/ holds config.json (the Record), state.json (the
// State), <id>-json.log (the container's output, written by its monitor)
// and the overlay's upper and work directories. Files are written to a
// temporary name, synced and renamed: a reader sees a whole file or the
// one before it, never part of one. Dot files and directories in
// <root>/containers are the store's own (.lock) or its users' (the
// container manager's .intents); [Store.Each] passes over them.
//
// # The state machine
//
// A container's Status moves only along these transitions ([State.To]);
// any other move is an error of class [ErrState], which is how "cannot
// exec into a stopped container" and "cannot remove a running container
// without -f" are enforced in one place:
//
//	created    -> running, exited, removing
//	running    -> exited, paused, restarting, removing, dead
//	paused     -> running, exited, restarting, removing
//	restarting -> running, exited, removing
//	exited     -> running, restarting, removing
//	dead       -> removing
//	removing   -> (none: the container goes)
//
// An exit is recorded as running or paused -> exited, or -> restarting
// when the restart policy follows it with another run, in the same write,
// so that between two runs the container never shows as exited, as in
// Docker. A container whose machine rebooted while it ran goes to exited
// at the next read (see container.Manager's Refresh).
//
// # Locking and who writes what
//
// Each container has a lock file (<id>/.lock, an flock); every change of a
// state or record is a read, change and write under it ([Store.Update],
// [Store.UpdateRecord]), and a change that leaves the file as it was
// writes nothing. The store's own lock (<root>/containers/.lock, [Store.Lock])
// makes the check that a name is free and the record's write one step
// ([Store.Create]); the container manager's intents take it too.
//
// state.json is written by the Store alone:
//
//   - the berth command (package container's Manager): create, start,
//     stop, kill, pause, rename, network connect, remove, and the refresh
//     of a container whose monitor died;
//   - the monitor (package monitor, berth-monitor): a run's start, its
//     endpoints, ports and health, the restart policy's next run, and an
//     exit the waiting program could not record (one it did record stands);
//   - the monitor's waiting program (package shim, berth-shim): the exit,
//     at once, through [State.Exit] under the lock (shim.RecordExit), so that whoever waits for it does not
//     wait for the monitor's clean-up too.
//
// Readers that do not change anything (ps, inspect, events) load without
// the lock; [Store.Watch] follows a state through its renames with
// fsnotify rather than a timer.
//
// [Store.Delete] takes config.json away first, so that a removal cut short
// leaves no container that looks whole; [Store.List] leaves out a directory
// whose record or state cannot be read, and [Store.Each] passes the error
// on to those (the in-use checks) for whom "unreadable" must not mean
// "unused".
package record
