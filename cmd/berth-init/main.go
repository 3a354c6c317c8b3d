package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "berth-init: no command to run")
		os.Exit(127)
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs) // every signal, SIGCHLD included
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// the command leads its own process group in the foreground, so a
	// terminal's Ctrl-C reaches it
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: isTerminal(0), Ctty: 0}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "berth-init: %v\n", err)
		if os.IsPermission(err) {
			os.Exit(126)
		}
		os.Exit(127)
	}
	child := cmd.Process.Pid
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			syscall.Kill(child, sig.(syscall.Signal))
			continue
		}
		// reap everything that has ended; the command's end ends us
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if pid == child {
				if ws.Signaled() {
					os.Exit(128 + int(ws.Signal()))
				}
				os.Exit(ws.ExitStatus())
			}
		}
	}
}

func isTerminal(fd int) bool {
	_, err := getTermios(fd)
	return err == nil
}
