package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/shim"
)

func main() {
	fd := -1
	for _, a := range os.Args[1:] {
		if v, ok := strings.CutPrefix(a, "--handoff="); ok {
			fd, _ = strconv.Atoi(v)
		}
	}
	if fd < 0 {
		fmt.Fprintln(os.Stderr, "usage: berth-shim --root ROOT __monitor ID --handoff=FD (the monitor runs it)")
		os.Exit(2)
	}
	h, err := shim.Read(fd)
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth-shim: %v\n", err)
		os.Exit(1)
	}
	// as the monitor: SIGINT and SIGTERM do not end the waiting, nor does
	// a SIGUSR1 that a stop meant for the monitor's back-off and that
	// arrives late (handled, not ignored: the monitor exec'd next, and the
	// container it restarts, start with them at their defaults)
	signal.Notify(make(chan os.Signal, 1), os.Interrupt, syscall.SIGTERM, syscall.SIGUSR1)
	// the resolver and the held ports go with the exec
	code, _ := shim.Wait(context.Background(), h)
	if h.Halted {
		// a down stopped it and removes it next, cleaning up after it:
		// nothing is left for the monitor, whose exec would only compete
		// with that down for the processors
		if h.Status != shim.None {
			fmt.Fprintf(os.NewFile(uintptr(h.Status), "status"), "exit %d\n", code)
		}
		return
	}
	err = shim.Exec(h.Resume, h, []int{h.Hub, h.Status})
	// only the monitor can clean up after the container: without it, what
	// is left is cleaned up as after a monitor that died
	fmt.Fprintf(os.Stderr, "berth-shim: %v\n", err)
	os.Exit(1)
}
