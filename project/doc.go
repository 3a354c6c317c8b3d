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
// # Loading
//
// [Load] calls compose-go with the options docker compose uses, in docker
// compose's order: the OS environment first and always winning; .env read
// from the working directory (to find COMPOSE_FILE) and again from the
// project directory once the files are known; profiles last. Then docker
// compose's post-processing: enable the services named on the command line
// (and their profiles), select them and their dependencies, drop unused
// networks, volumes, secrets and configs, merge env_file into environment.
// A --profile that no service declares is an error naming the profiles the
// file has (compose-go accepts it and selects nothing). [LoadModel] stops at
// the raw YAML tree, for `config --no-interpolate` and `--variables`.
//
// The compose JSON schema check is most of a load's cost, since compose-go
// compiles the schema in every process (validated.go). Passing it is a
// function of the files' bytes, the environment they are interpolated with,
// the options and compose-go's version, so Load keeps, per set of files, the
// digest of the inputs that last passed (Options.ValidatedCache, under the
// state root cache/validated/) and skips the schema while it matches. Files
// that mention include or extends, or carry the obsolete top-level version
// key, are checked every time: their inputs are not all known here, and the
// version warning comes from the schema pass.
//
// # Errors
//
// Every error wraps one of [ErrInvalid], [ErrNotFound] or [ErrCycle]
// (classed with package errclass), is checked with errors.Is, and fits on
// one line. Errors compose-go raises without a file name get the compose
// files prefixed. Messages are put in the user's words (errors.go): an
// unknown key reads `services.web additional properties 'enviroment' not
// allowed`, as docker compose says it, and a value of the wrong type names
// the key and what it wants, not strconv's message.
//
// # Guarding compose-go
//
// compose-go is fed user input and has two known failure modes, both found
// by FuzzLoad: an anchor that merges itself makes its !reset pass run for
// minutes and allocate tens of GB, and a document whose root is !reset
// panics. guard.go parses each compose file berth is given with yaml.v3 and
// refuses both before compose-go reads it; it also parses each file with
// compose-go's own YAML parser (go-yaml v4) first and reports a syntax error
// itself, with the parser's 0-based line numbers made 1-based. Files
// compose-go reads on its own (includes, extends, stdin) are covered by a
// bound on the !reset pass's node visits, and any loader panic becomes an
// ErrInvalid.
//
// # Compatibility
//
// [Support] is the one table that says which compose keys berth honours
// ([Yes]), will honour under a named issue ([Planned]), or does not ([No]);
// a key no rule covers is No. compose-go's unsupported-attribute walk
// reports every key of the loaded file outside the Yes set, once, at the
// highest unsupported node; findings for disabled or unselected services
// are dropped. Commands that act print one warning per key, naming the
// service and key path, never the value. docs/compose-compat.md is
// generated from Support over compose-go's full list of specification
// paths, and a test fails when it is stale (`make docs`).
//
// # Graph
//
// Edges come from depends_on (condition, required, restart) and, read
// directly so they hold even with normalisation off, from links,
// network_mode/ipc/pid/uts/cgroup "service:x" and volumes_from. Each [Edge]
// records the keys that made it; [Edge.SharesNamespace] tells the
// reconciler that recreating the target forces recreating the dependent. A
// required edge to a missing service is ErrNotFound; an optional one is
// dropped. Cycles are found depth-first in name order, so the same file
// always names the same cycle: `dependency cycle: a -> b -> a`.
//
// [Graph.Walk] visits services in dependency order (or reverse, for stop and
// down), starting a service as soon as what it waits on has succeeded, with
// at most WalkOptions.Parallel visits at once. After an error the visits
// under way are cancelled, nothing new starts, and the errors are returned
// joined, the first first. A visit that ends only because it was cancelled
// adds no error: the user reads what failed, and the CLI, which exits 130
// only when a signal cancelled the command, does not take the failure for an
// interrupt.
//
// # Configuration hash and config
//
// [ServiceHash] is the SHA-256 of the service's compose-go JSON with build,
// pull_policy, scale, deploy.replicas, depends_on and profiles cleared: the
// same function as docker compose's com.docker.compose.config-hash label
// (the reasons are in its doc comment). [WriteConfig] mirrors `docker
// compose config` flag by flag, including escaping $ as $$ in interpolated
// output so that it loads back the same; its deliberate differences (sorted
// listings, --hash with env_file merged) are in its doc comment.
package project
