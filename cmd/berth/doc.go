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
// terminal, plain lines otherwise, JSON lines, or nothing.
package main
