// Package systemd installs and removes the systemd unit that runs `berth
// system boot` when the machine starts: berth has no daemon to restore
// containers after a reboot, so the init system runs that one command.
package systemd
