// Command berth runs compose projects without a Docker daemon.
//
// This package is cobra wiring only: each command turns its flags into an
// options struct and calls a package that does the work, in process. Errors
// come back unprinted; main prints each once, on one line, and picks the exit
// code from its class.
package main
