// Package project turns compose files into berth's model of a project.
//
// It stands on compose-go exactly as docker compose does, so that a file means
// the same thing to both: the same file discovery (-f, COMPOSE_FILE, compose.yaml
// and its override in the working directory or a parent), the same .env and
// --env-file handling, interpolation, profiles, extends, include, !reset and
// !override, and the same project-name precedence. Nothing compose-go already
// does is done again here.
//
// On top of compose-go the package adds what berth needs to act on a project:
//
//   - [Load] returns a [Project]: compose-go's model plus the list of keys the
//     file uses that berth does not honour yet ([Unsupported]), so that no key is
//     ever ignored in silence. The table behind that list is [Support], from which
//     docs/compose-compat.md is generated.
//   - [NewGraph] builds the service dependency graph (depends_on, links,
//     network_mode/ipc/pid service:x, volumes_from), rejects cycles by naming
//     them, and walks it in dependency order or in reverse, running independent
//     services concurrently under a parallelism bound.
//   - [ServiceHash] is the configuration hash that decides when a service's
//     containers are recreated.
//   - [WriteConfig] renders a project the way `docker compose config` does.
//
// Errors are classified by the sentinels in errors.go and checked with errors.Is.
package project
