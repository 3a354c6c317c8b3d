// Command berth-monitor is the monitor of one container, which berth
// starts beside itself (see container.Monitor): a program of its own,
// without the CLI, the compose loader or the registry client, so that each
// running container costs less memory. Its command line is berth's hidden
// `__monitor` one: --root ROOT __monitor ID [--attached] [--stdin]
// [--tty-size=ROWS,COLS].
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/runtime"
)

func init() {
	// libcontainer starts each container's first process as
	// /proc/self/exe init: this binary, then
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.Init()
	}
}

func main() {
	fs := flag.NewFlagSet("berth-monitor", flag.ExitOnError)
	root := fs.String("root", "/var/lib/berth", "berth's state root")
	fs.Parse(os.Args[1:])
	rest := fs.Args()
	if len(rest) < 2 || rest[0] != "__monitor" {
		fmt.Fprintln(os.Stderr, "usage: berth-monitor --root ROOT __monitor ID [--attached] [--stdin] [--tty-size=ROWS,COLS]")
		os.Exit(2)
	}
	id := rest[1]
	mf := flag.NewFlagSet("__monitor", flag.ExitOnError)
	attached := mf.Bool("attached", false, "")
	stdin := mf.Bool("stdin", false, "")
	size := mf.String("tty-size", "", "")
	mf.Parse(rest[2:])
	mio := container.MonitorIO{Status: os.NewFile(3, "status")}
	if *attached {
		mio.Stdout, mio.Stderr = os.NewFile(4, "stdout"), os.NewFile(5, "stderr")
	}
	if *stdin {
		mio.Stdin = os.NewFile(6, "stdin")
	}
	var rows, cols uint16
	if _, err := fmt.Sscanf(*size, "%d,%d", &rows, &cols); err == nil {
		mio.Size = &unix.Winsize{Row: rows, Col: cols}
	}
	// as under berth: SIGINT and SIGTERM end the context, not the process
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := container.Monitor(ctx, *root, id, mio); err != nil {
		fmt.Fprintf(os.Stderr, "berth-monitor: %v\n", err)
		os.Exit(1)
	}
}
