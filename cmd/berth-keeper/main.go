package main

import (
	"syscall"

	"github.com/berth-dev/berth/keeper"
)

func main() { syscall.Exit(keeper.Main(keeper.Args())) }
