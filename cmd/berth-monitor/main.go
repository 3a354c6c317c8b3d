package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth-dev/berth/container"
	"github.com/berth-dev/berth/keeper"
	"github.com/berth-dev/berth/monitor"
	"github.com/berth-dev/berth/runtime"
)

func init() {
	// libcontainer starts each container's first process as
	// /proc/self/exe init: this binary, then
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.Init()
	}
	// the keeper of a container's monitor, where berth-keeper is not
	// beside this binary (see package keeper)
	if len(os.Args) > 1 && os.Args[1] == "__keeper" {
		os.Exit(keeper.Main(os.Args))
	}
}

const usage = "usage: berth-monitor --root ROOT __monitor ID [--attached] [--stdin] [--tty-size=ROWS,COLS] [--handoff=FD] [--recover] | --root ROOT __probe ID | __keeper ..."

func main() {
	fs := flag.NewFlagSet("berth-monitor", flag.ExitOnError)
	root := fs.String("root", "/var/lib/berth", "berth's state root")
	fs.Parse(os.Args[1:])
	rest := fs.Args()
	if len(rest) < 2 || (rest[0] != "__monitor" && rest[0] != "__probe") {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	// as under berth: SIGINT and SIGTERM end the context, not the process
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if rest[0] == "__probe" {
		next, err := monitor.Probe(ctx, *root, rest[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "berth-monitor: %v\n", err)
			os.Exit(1)
		}
		fmt.Println(next)
		return
	}
	var f monitor.Flags
	mf := flag.NewFlagSet("__monitor", flag.ExitOnError)
	mf.BoolVar(&f.Attached, "attached", false, "")
	mf.BoolVar(&f.Stdin, "stdin", false, "")
	mf.StringVar(&f.TTYSize, "tty-size", "", "")
	mf.IntVar(&f.Handoff, "handoff", -1, "")
	mf.BoolVar(&f.Recover, "recover", false, "")
	mf.Parse(rest[2:])
	if err := monitor.Run(ctx, *root, rest[1], f, container.AutoRemove); err != nil {
		fmt.Fprintf(os.Stderr, "berth-monitor: %v\n", err)
		os.Exit(1)
	}
}
