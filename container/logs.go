package container

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/api/proc"
	"github.com/berth-dev/berth/jsonlog"
	"github.com/berth-dev/berth/record"
)

// Logs writes a container's log to stdout and stderr by stream. Following,
// it waits for new lines (inotify on the log) until the container stops (a
// pidfd on its monitor): events, not polling.
func (m *Manager) Logs(ctx context.Context, ref string, o proc.LogOptions, stdout, stderr io.Writer) error {
	e, err := m.Get(ctx, ref)
	if err != nil {
		return err
	}
	path := m.Store.LogPath(e.Record.ID)
	emit := func(l jsonlog.Entry) error {
		if (!o.Since.IsZero() && l.Time.Before(o.Since)) || (!o.Until.IsZero() && l.Time.After(o.Until)) {
			return nil
		}
		w := stdout
		if l.Stream == "stderr" {
			w = stderr
		}
		if o.Timestamps {
			if _, err := io.WriteString(w, l.Time.Format(time.RFC3339Nano)+" "); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, l.Log)
		return err
	}
	var offset int64
	files := jsonlog.Files(path)
	if o.Tail >= 0 {
		var last []jsonlog.Entry
		for _, f := range files {
			offset, err = jsonlog.Read(f, 0, func(l jsonlog.Entry) error {
				last = append(last, l)
				if len(last) > o.Tail {
					last = last[1:]
				}
				return nil
			})
		}
		for _, l := range last {
			if err := emit(l); err != nil {
				return err
			}
		}
	} else {
		for _, f := range files {
			if offset, err = jsonlog.Read(f, 0, emit); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = nil // never started: no output yet
	}
	if err != nil || !o.Follow || !(e.State.Running() || e.State.Status == record.Restarting) {
		return err
	}
	ino, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return err
	}
	defer unix.Close(ino)
	if _, err := unix.InotifyAddWatch(ino, path, unix.IN_MODIFY); err != nil {
		return err
	}
	mon, err := unix.PidfdOpen(e.State.MonitorPid, 0)
	if err != nil {
		_, err = jsonlog.Read(path, offset, emit)
		return err
	}
	defer unix.Close(mon)
	buf := make([]byte, 4096)
	for {
		fds := []unix.PollFd{{Fd: int32(ino), Events: unix.POLLIN}, {Fd: int32(mon), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, 250); err != nil && err != unix.EINTR { // wakes to notice ctx
			return err
		}
		unix.Read(ino, buf) // drain the events
		if fi, err := os.Stat(path); err == nil && fi.Size() < offset {
			offset = 0 // rotated: the live file starts again
			unix.InotifyAddWatch(ino, path, unix.IN_MODIFY)
		}
		if offset, err = jsonlog.Read(path, offset, emit); err != nil {
			return err
		}
		if fds[1].Revents != 0 || ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
