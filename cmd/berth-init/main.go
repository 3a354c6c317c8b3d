// Command berth-init is the init process `berth container run --init` puts
// in front of a container's command: PID 1 of the container, it starts the
// command, forwards every signal it receives to it, reaps every orphan that
// the kernel hands to PID 1, and exits with the command's status.
//
// Why it exists: a process that is PID 1 in its namespace gets no default
// signal handlers (SIGTERM does nothing unless it installs one) and inherits
// every orphaned process, which it must wait for or they stay zombies. Most
// programs are not written for that role.
//
// It is built static (CGO_ENABLED=0) so that it runs in any root filesystem,
// and installed next to berth, which bind-mounts it at /sbin/docker-init.
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
