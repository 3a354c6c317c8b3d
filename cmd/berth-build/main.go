package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth-dev/berth/build/frontend"
	"github.com/berth-dev/berth/build/frontend/wire"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: berth-build (berth runs it: a request on stdin, the answer on stdout)")
		os.Exit(2)
	}
	// a terminal's ^C is berth's to act on, as it was when the frontend
	// ran in berth: berth kills this program when it gives the build up
	signal.Ignore(syscall.SIGINT)
	if err := wire.Serve(context.Background(), os.Stdin, os.Stdout, frontend.Convert); err != nil {
		fmt.Fprintf(os.Stderr, "berth-build: %v\n", err)
		os.Exit(1)
	}
}
