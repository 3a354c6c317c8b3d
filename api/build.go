package api

import "io"

// BuildOptions shape Build, and the builds an up (or a run) makes of the
// images it must build, as docker compose build's flags do.
type BuildOptions struct {
	// Args are --build-arg values, over each service's build.args.
	Args map[string]string
	// NoCache builds every step again (--no-cache); Pull pulls the base
	// images even when they are here (--pull).
	NoCache, Pull bool
	// Push pushes each image built to the registry its name says (--push).
	Push bool
	// Pushed, when set, is told of each push: the service, the name
	// pushed and the manifest digest the registry now serves it by, so
	// that a caller can name exactly what it pushed (REF@DIGEST).
	Pushed func(service, ref, digest string)
	// Deps builds the services' dependencies too (--with-dependencies).
	Deps bool
	// Progress, when set, is where a service's build shows its steps
	// (BuildKit's plain form, or a live display the caller made); nil
	// shows nothing.
	Progress func(service string) io.Writer
}
