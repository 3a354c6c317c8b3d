// Command berth-monitor is the monitor of one container, which berth
// starts beside itself (see package monitor): a program of its own,
// without the CLI, the compose loader or the registry client, so that each
// running container costs less memory. Its command lines are berth's
// hidden ones: --root ROOT __monitor ID [--attached] [--stdin]
// [--tty-size=ROWS,COLS] [--handoff=FD] [--recover], and --root ROOT
// __probe ID, one health probe, which prints the wait before the next;
// and __keeper ..., the monitor's keeper where berth-keeper is missing.
package main
