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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := wire.Serve(ctx, os.Stdin, os.Stdout, frontend.Convert); err != nil {
		fmt.Fprintf(os.Stderr, "berth-build: %v\n", err)
		os.Exit(1)
	}
}
