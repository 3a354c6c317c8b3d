// Command berth runs compose projects without a Docker daemon.
//
// This package is cobra wiring only: each command turns its flags into an
// options struct and calls a package that does the work, in process. Errors
// come back unprinted; main prints each once, on one line, and picks the exit
// code from its class.
//
// What the commands print is theirs: the engine reports each object's
// status (Container app-1  Started) through Engine.Report, and progress.go
// shows it as --progress asks: a live display redrawn in place on a
// terminal, plain lines otherwise, JSON lines, or nothing. On a terminal
// the builds' live view (build.Display) shares standard error with it,
// each through a termView that tells it when the other drew below it.
//
// Where the CLI departs from docker compose, on purpose:
//   - Global flags come before the command (berth -f x.yaml up), as in
//     docker compose; the commands keep their own short flags (logs -f is
//     --follow, rm -f is --force, container run -h is --hostname).
//   - An unknown --profile is an error naming the profiles the files
//     have: compose-go accepts it and selects nothing, a silent typo.
//   - config --hash hashes with env_file merged, as up does (docker
//     compose's hashes the paths); where docker compose lists in Go's
//     random map order, berth prints sorted.
//   - image save writes one form, Docker 25's (OCI layout and Docker
//     archive at once), with no --format choice, as Docker's has none.
//   - berth image build and berth build exit with a failed RUN step's
//     own code (a RUN that exits 7 makes the build exit 7), so a script
//     sees what failed; docker build and docker compose build exit 1. up,
//     run and create --build keep 1, their codes being their containers'.
//   - berth build is both docker compose build and docker build: with
//     -t/--tag, or an argument that is a path (starting with . or holding
//     a /, which no service name can), it is image build (berth build -t
//     app ., berth build ./dir); otherwise compose's, whose arguments are
//     services (berth build web).
//   - image build -o writes the output and, with -t, also keeps the image
//     in the store under its tags (buildx would need --load as well);
//     without -t it keeps none, as buildx's exporters keep none.
//   - A warning names the service and the key path, not the value
//     (service "web": key "build.ssh" is not supported by berth and is
//     ignored); config renders without warnings, as docker compose does.
package main
