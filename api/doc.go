// Package api is the seam between the CLI and a compose backend, in the
// spirit of docker compose's pkg/api: the Service interface (everything
// the CLI does to a project: Up, Attach, Down, Start, Stop, Restart,
// Pause, Unpause, Kill, Remove, Members, Logs, Events, Top, Stats, Exec,
// Run, AttachContainer, Copy, WaitExits, Image, Build, Watch) and the options
// and results its operations take and give.
//
// The local engine (package engine) is the first implementation; a
// cluster backend (Kubernetes) would be a second, implementing Service
// without importing the local engine. The CLI holds an api.Service for
// every project command, and only system boot, which belongs to this
// machine, holds the local engine itself.
//
// api is a leaf: it holds types and no behaviour of its own, besides the
// way a Member names itself in logs and an Event prints. It still names a
// few of package container's types where a member is a container record
// (Member embeds record.Entry) and where an operation passes through
// to one container (exec, attach, copy, log and stats options); these
// are the references that move when the records get a package of their
// own.
package api
