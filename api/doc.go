// Package api is the seam between the CLI and a compose backend, in the
// spirit of docker compose's pkg/api: the Service interface (everything
// the CLI does to a project: Up, Attach, Down, Start, Stop, Restart,
// Pause, Unpause, Kill, Remove, Members, Logs, Events, Top, Stats, Exec,
// Run, AttachContainer, Copy, WaitExits, Pull, Push, Images, Build, Watch)
// and the options and results its operations take and give.
//
// The local engine (package engine) is the first implementation; a
// cluster backend (Kubernetes) would be a second, implementing Service
// without importing the local engine. The CLI holds an api.Service for
// every project command, and only system boot, which belongs to this
// machine, holds the local engine itself.
//
// api is a leaf: it holds types and no behaviour of its own, besides the
// way a Member names itself in logs and an Event prints, and it links
// none of berth's machinery (container, engine, runtime, netns, volumes,
// image, libcontainer; TestLeaf checks). Where its types are a
// container's, they come from leaves of their own: a Member embeds a
// record.Entry (package record), a run's published ports and mounts are
// port.Mapping (netns/port) and mount.Spec (volumes/mount), and what an
// operation passes through to one container (exec, attach, copy, log
// options, top's processes, stats rows, the caller's streams) is in
// api/proc, which package container takes too: container cannot import
// api itself without linking the compose loader that Service names into
// berth-monitor, which is also every container's init.
package api
