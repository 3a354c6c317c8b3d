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
