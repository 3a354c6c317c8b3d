// Package watch keeps a project's running containers in step with the
// files on the host they come from, as docker compose watch does, from
// each service's develop.watch rules.
//
// Vocabulary:
//
//   - a Rule is one develop.watch entry: a host Path (absolute), what to do
//     when something under it changes (Action), and for the sync actions
//     where it goes in the container (Target). Include and ignore patterns
//     are .dockerignore's syntax, relative to Path; .git and editors'
//     temporary files are always ignored.
//   - a Change is one host path that changed (written, made or removed) and
//     where it belongs in the container.
//   - a [Target] is what acts on the containers: the engine, in berth
//     (behind engine.Service's Watch). Its contract: Sync copies each change
//     whose host path exists into the service's containers (parents made as
//     needed) and removes those whose host path is gone; Restart restarts
//     the services' containers; Exec runs a sync+exec command in them.
//
// [Run] watches every rule's path with fsnotify (directories one by one,
// as inotify is not recursive, and each new one as it appears), gathers
// the changes until the files have been quiet for Options.Quiet (half a
// second unless set), as an editor saving many files, a checkout or a
// build writes them in bursts, and then, per service: syncs the changed
// files (copies those that exist, removes those that do not), restarts,
// and runs the sync+exec command, in that order.
//
// The rebuild action builds the service's image again and recreates its
// containers (before the syncs, as compose does); Rules refuses it for a
// service without build:, naming the service.
package watch
